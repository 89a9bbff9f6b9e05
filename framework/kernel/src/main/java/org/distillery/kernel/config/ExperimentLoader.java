package org.distillery.kernel.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigResolveOptions;
import com.typesafe.config.ConfigUtil;
import com.typesafe.config.ConfigValueFactory;

/**
 * Turns {@code distill run <experiment|file> --set path=value ...} into one resolved config:
 * the file (with its {@code include}s, relative to it), then the overrides, over the kernel's
 * experiment defaults. {@code ${DISTILL_HOME}} names the distribution folder.
 */
public final class ExperimentLoader {

    /** Substitution variable naming the distribution folder. */
    public static final String HOME_VARIABLE = "DISTILL_HOME";

    private final Path home;
    private final List<String> warnings = new ArrayList<>();

    /** Creates a loader for the distribution at {@code home}. */
    public ExperimentLoader(Path home) {
        this.home = home;
    }

    /** The experiments shipped in {@code config/experiments}. */
    public List<String> available() {
        Path dir = home.resolve("config").resolve("experiments");
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".conf"))
                    .map(n -> n.substring(0, n.length() - 5)).sorted().toList();
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Finds the experiment file for a name or path. */
    public Path locate(String nameOrFile) {
        Path direct = Path.of(nameOrFile);
        if (Files.isRegularFile(direct)) {
            return direct;
        }
        Path named = home.resolve("config").resolve("experiments").resolve(nameOrFile + ".conf");
        if (Files.isRegularFile(named)) {
            return named;
        }
        List<String> known = available();
        String hint = Suggestions.closest(nameOrFile, known).map(s -> "; did you mean " + s + "?").orElse("");
        throw new ExperimentException(List.of("experiment: not found (got \"" + nameOrFile + "\"; accepted: a .conf file or "
                + (known.isEmpty() ? "an experiment in " + home.resolve("config/experiments") : String.join(", ", known))
                + hint + ")"));
    }

    /**
     * Warnings of the last {@link #load}: each {@code include} that found no file (HOCON skips
     * them silently), as {@code <experiment>: include "x" found no file ...}.
     */
    public List<String> warnings() {
        return List.copyOf(warnings);
    }

    /** Loads, overrides and resolves an experiment (not yet validated). */
    public Config load(Path file, List<String> overrides) {
        Config parsed;
        MissingIncludes includes = new MissingIncludes();
        try {
            parsed = ConfigFactory.parseFile(file.toFile(),
                    includes.options(ConfigParseOptions.defaults().setAllowMissing(false)));
        } catch (ConfigException e) {
            throw new ExperimentException(List.of(file + ": cannot parse: " + e.getMessage()));
        }
        warnings.clear();
        for (String m : includes.missing()) {
            warnings.add(file + ": " + m + " found no file and was skipped (HOCON skips a missing include; "
                    + "write include required(...) to make it an error)");
        }
        Config merged = parseOverrides(overrides).withFallback(parsed);
        String name = file.getFileName().toString().replaceFirst("\\.conf$", "");
        merged = merged.withFallback(ConfigFactory.parseMap(Map.of("experiment.name", name)));
        return resolve(merged);
    }

    /** Resolves substitutions, with {@code DISTILL_HOME} and environment variables available. */
    public Config resolve(Config merged) {
        Config homeVar = ConfigFactory.parseMap(Map.of(HOME_VARIABLE, home.toAbsolutePath().normalize().toString()));
        Config defaults = ConfigValidator.experimentDefaults();
        try {
            Config resolved = merged.withFallback(defaults).withFallback(homeVar)
                    .resolve(ConfigResolveOptions.defaults());
            return resolved.withoutPath(HOME_VARIABLE);
        } catch (ConfigException e) {
            throw new ExperimentException(List.of("cannot resolve: " + e.getMessage()));
        }
    }

    /** Parses {@code path=value} overrides; a value that is not HOCON is taken as a string. */
    public static Config parseOverrides(List<String> overrides) {
        Config out = ConfigFactory.empty();
        List<String> problems = new ArrayList<>();
        for (String o : overrides) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                problems.add("--set " + o + ": expected path=value (e.g. --set train.steps=10)");
                continue;
            }
            String path = o.substring(0, eq).trim();
            String value = o.substring(eq + 1);
            try {
                ConfigUtil.splitPath(path);
            } catch (ConfigException e) {
                problems.add("--set " + o + ": bad path '" + path + "': " + e.getMessage());
                continue;
            }
            Config one;
            try {
                one = value.contains("//") ? null : ConfigFactory.parseString(path + " = " + value,
                        ConfigParseOptions.defaults().setOriginDescription("--set " + o));
            } catch (ConfigException e) {
                one = null;
            }
            if (one == null) {
                one = ConfigFactory.empty().withValue(path, ConfigValueFactory.fromAnyRef(value, "--set " + o));
            }
            out = one.withFallback(out);
        }
        if (!problems.isEmpty()) {
            throw new ExperimentException(problems);
        }
        return out;
    }
}
