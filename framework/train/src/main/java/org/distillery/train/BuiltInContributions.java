package org.distillery.train;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.ContributionFactory;
import org.distillery.api.ContributionKind;

/**
 * Contributions built into the kernel rather than a bundle: the {@code kd} method, the
 * {@code train.kd} stage, the {@code data.dataset} sampler and the {@code teacher.local}
 * teacher. Their defaults are in {@code distillery-train.conf}, laid out like a bundle's
 * {@code reference.conf}.
 */
public final class BuiltInContributions {

    /**
     * One built-in contribution.
     *
     * @param kind its kind
     * @param key its registry key
     * @param factory the factory
     * @param defaults its default parameters
     */
    public record BuiltIn(ContributionKind kind, String key, ContributionFactory factory, Config defaults) {
    }

    private BuiltInContributions() {
    }

    /** All of them. */
    public static List<BuiltIn> all() {
        ClassLoader loader = BuiltInContributions.class.getClassLoader();
        Config ref = ConfigFactory.parseResources(loader, "distillery-train.conf",
                ConfigParseOptions.defaults().setAllowMissing(false).setClassLoader(loader)).resolve();
        List<BuiltIn> all = new java.util.ArrayList<>(List.of(
                builtIn(ref, ContributionKind.METHOD, "kd", new KdMethod()),
                builtIn(ref, ContributionKind.METHOD, "kd.compare", new CompareMethod()),
                builtIn(ref, ContributionKind.TRAINER, "train.kd", new KdTrainer.Factory()),
                builtIn(ref, ContributionKind.TRAINER, "eval.report", new EvalReportTrainer.Factory()),
                builtIn(ref, ContributionKind.SAMPLER, "data.dataset", new DatasetSampler.Factory()),
                builtIn(ref, ContributionKind.TEACHER, "teacher.local", new LocalTeacher.Factory())));
        all.addAll(org.distillery.train.cache.CacheContributions.builtIns());
        all.addAll(org.distillery.train.eval.EvalContributions.all());
        return List.copyOf(all);
    }

    /** A built-in with its defaults at {@link ContributionKind#defaultsPath} of {@code ref}. */
    public static BuiltIn builtIn(Config ref, ContributionKind kind, String key, ContributionFactory f) {
        String path = kind.defaultsPath(key);
        return new BuiltIn(kind, key, f, ref.hasPath(path) ? ref.getConfig(path) : ConfigFactory.empty());
    }
}
