package org.distillery.train.eval;

import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.metric.MetricFactory;
import org.distillery.train.BuiltInContributions;

/**
 * The built-in metrics, registered by the kernel like {@link BuiltInContributions}. Their
 * defaults are in {@code distillery-eval.conf}, laid out like a bundle's {@code reference.conf}.
 */
public final class EvalContributions {

    /** The defaults file on the class path. */
    public static final String DEFAULTS = "distillery-eval.conf";

    private EvalContributions() {
    }

    /** All built-in metrics, each with its defaults. */
    public static List<BuiltInContributions.BuiltIn> all() {
        Config ref = defaults();
        return List.of(
                metric(ref, RougeLMetric.KEY, new RougeLMetric.Factory()),
                metric(ref, ExactMatchMetric.KEY, new ExactMatchMetric.Factory()),
                metric(ref, EceMetric.KEY, new EceMetric.Factory()),
                metric(ref, DistinctMetric.KEY, new DistinctMetric.Factory()),
                metric(ref, LmLossMetric.KEY, new LmLossMetric.Factory()),
                metric(ref, ExAccErrMetric.KEY, new ExAccErrMetric.Factory()),
                metric(ref, JudgeMetric.KEY, new JudgeMetric.Factory()));
    }

    /** A registry holding only the built-in metrics, for evaluating outside the kernel. */
    public static ContributionRegistry registry() {
        List<BuiltInContributions.BuiltIn> all = all();
        return new ContributionRegistry() {
            @Override
            @SuppressWarnings("unchecked")
            public <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> type) {
                return all.stream().filter(b -> b.kind() == kind && b.key().equals(key) && type.isInstance(b.factory()))
                        .findFirst().map(b -> new Contribution<>(info(b), (F) b.factory(), b.defaults()));
            }

            @Override
            public List<ContributionInfo> list(ContributionKind kind) {
                return all.stream().filter(b -> b.kind() == kind).map(EvalContributions::info)
                        .sorted(Comparator.comparing(ContributionInfo::key)).toList();
            }
        };
    }

    private static ContributionInfo info(BuiltInContributions.BuiltIn b) {
        return new ContributionInfo(b.kind(), b.key(), "org.distillery.train", "built-in", b.factory().description());
    }

    /** The whole defaults file, resolved. */
    public static Config defaults() {
        ClassLoader loader = EvalContributions.class.getClassLoader();
        return ConfigFactory.parseResources(loader, DEFAULTS,
                ConfigParseOptions.defaults().setAllowMissing(false).setClassLoader(loader)).resolve();
    }

    private static BuiltInContributions.BuiltIn metric(Config ref, String key, MetricFactory f) {
        String path = ContributionKind.METRIC.defaultsPath(key);
        return new BuiltInContributions.BuiltIn(ContributionKind.METRIC, key, f,
                ref.hasPath(path) ? ref.getConfig(path) : ConfigFactory.empty());
    }
}
