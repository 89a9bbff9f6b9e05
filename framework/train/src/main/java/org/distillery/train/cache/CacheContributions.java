package org.distillery.train.cache;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.ContributionKind;
import org.distillery.train.BuiltInContributions;

/** The built-in contributions of the teacher cache: the {@code teacher.cached} teacher. */
public final class CacheContributions {

    /** The teacher's registry key. */
    public static final String KEY = "teacher.cached";

    private CacheContributions() {
    }

    /** All of them, with defaults from {@code distillery-cache.conf}. */
    public static List<BuiltInContributions.BuiltIn> builtIns() {
        ClassLoader loader = CacheContributions.class.getClassLoader();
        Config ref = ConfigFactory.parseResources(loader, "distillery-cache.conf",
                ConfigParseOptions.defaults().setAllowMissing(false).setClassLoader(loader)).resolve();
        String path = ContributionKind.TEACHER.defaultsPath(KEY);
        return List.of(new BuiltInContributions.BuiltIn(ContributionKind.TEACHER, KEY, new CachedTeacher.Factory(),
                ref.hasPath(path) ? ref.getConfig(path) : ConfigFactory.empty()));
    }
}
