package org.distillery.api;

import java.util.Locale;
import java.util.Optional;

import org.distillery.api.data.DataGeneratorFactory;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.merge.MergerFactory;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.TrainerFactory;

/**
 * The kinds of contribution a method bundle can make, each with its factory type and the
 * plural name used on the command line ({@code distill list losses}) and in
 * {@code reference.conf} ({@code distillery.losses."kd.forward-kl" { ... }}).
 */
public enum ContributionKind {
    /** Training objectives, see {@link LossFactory}. */
    LOSS("losses", LossFactory.class),
    /** Sources of training sequences, see {@link SamplerFactory}. */
    SAMPLER("samplers", SamplerFactory.class),
    /** Training stages, see {@link TrainerFactory}. */
    TRAINER("trainers", TrainerFactory.class),
    /** Named recipes of stages, see {@link MethodFactory}. */
    METHOD("methods", MethodFactory.class),
    /** Metrics and evaluators, see {@link MetricFactory}. */
    METRIC("metrics", MetricFactory.class),
    /** Teachers (local, cached, remote), see {@link TeacherFactory}. */
    TEACHER("teachers", TeacherFactory.class),
    /** Dataset generators, see {@link DataGeneratorFactory}. */
    DATA_GENERATOR("generators", DataGeneratorFactory.class),
    /** Student initialisers, see {@link ModelInitializerFactory}. */
    MODEL_INITIALIZER("initializers", ModelInitializerFactory.class),
    /** Scores of sampled completions (verifiers, judges, teacher-induced rewards), see {@link RewardFactory}. */
    REWARD("rewards", RewardFactory.class),
    /** Model mergers (linear, SLERP, TIES, LM-Cocktail), see {@link MergerFactory}. */
    MERGER("mergers", MergerFactory.class);

    /** Manifest header naming a bundle's Guice module class. */
    public static final String MODULE_HEADER = "Distillery-Module";
    /** Service property holding a contribution's registry key. */
    public static final String KEY_PROPERTY = "distillery.key";
    /** Service property holding a contribution's kind, as {@link #plural()}. */
    public static final String KIND_PROPERTY = "distillery.kind";
    /** Root path of contribution defaults in a bundle's {@code reference.conf}. */
    public static final String DEFAULTS_ROOT = "distillery";
    /** Pattern every registry key must match: lowercase dotted segments. */
    public static final String KEY_PATTERN = "[a-z][a-z0-9-]*(\\.[a-z0-9][a-z0-9-]*)+";

    private final String plural;
    private final Class<?> factoryType;

    ContributionKind(String plural, Class<?> factoryType) {
        this.plural = plural;
        this.factoryType = factoryType;
    }

    /** The plural, lowercase name of this kind, e.g. {@code losses}. */
    public String plural() {
        return plural;
    }

    /** The factory interface a contribution of this kind implements. */
    public Class<?> factoryType() {
        return factoryType;
    }

    /** The {@code reference.conf} path of a contribution's default parameters. */
    public String defaultsPath(String key) {
        return DEFAULTS_ROOT + "." + plural + ".\"" + key + "\"";
    }

    /** Finds a kind by its plural or singular name, ignoring case. */
    public static Optional<ContributionKind> byName(String name) {
        String n = name.toLowerCase(Locale.ROOT);
        for (ContributionKind k : values()) {
            if (k.plural.equals(n) || k.name().toLowerCase(Locale.ROOT).replace('_', '-').equals(n)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }
}
