package org.distillery.serve.teacher;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.ContributionFactory;
import org.distillery.api.ContributionKind;

/** The serving module's built-in contributions: the {@code teacher.remote} teacher. */
public final class ServeContributions {

    /** The teacher's registry key. */
    public static final String KEY = "teacher.remote";

    /**
     * One built-in contribution, for the kernel to register.
     *
     * @param kind its kind
     * @param key its registry key
     * @param factory the factory
     * @param defaults its default parameters (from {@code distillery-serve.conf})
     */
    public record BuiltIn(ContributionKind kind, String key, ContributionFactory factory, Config defaults) {
    }

    private ServeContributions() {
    }

    /** All of them. */
    public static List<BuiltIn> all() {
        ClassLoader loader = ServeContributions.class.getClassLoader();
        Config ref = ConfigFactory.parseResources(loader, "distillery-serve.conf",
                ConfigParseOptions.defaults().setAllowMissing(false).setClassLoader(loader)).resolve();
        String path = ContributionKind.TEACHER.defaultsPath(KEY);
        return List.of(new BuiltIn(ContributionKind.TEACHER, KEY, new RemoteTeacher.Factory(), ref.getConfig(path)));
    }
}
