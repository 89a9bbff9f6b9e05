package org.distillery.kernel.config;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiFunction;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigList;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.ContributionKind;

/**
 * Checks a whole resolved experiment before any tensor work: every key must exist in the
 * defaults (or the contribution's defaults, for {@code params}), every value must have the
 * type of its default, every contribution key must be registered, and every file must exist.
 * Each problem names the config path, the value and what is accepted.
 */
public final class ConfigValidator {

    private final Config schema;
    private final Set<String> freeForm;
    private final Set<String> files;
    private final Map<String, ContributionKind> contributions = new HashMap<>();
    private final Set<String> optional;
    private final Map<String, List<String>> extraKeys = new HashMap<>();
    private final BiFunction<ContributionKind, String, Optional<Config>> defaultsOf;
    private final java.util.function.Function<ContributionKind, List<String>> keysOf;

    /**
     * Creates a validator.
     *
     * @param defaultsOf the defaults of a registered contribution, empty if the key is unknown
     * @param keysOf the registered keys of a kind
     */
    public ConfigValidator(BiFunction<ContributionKind, String, Optional<Config>> defaultsOf,
                           java.util.function.Function<ContributionKind, List<String>> keysOf) {
        ClassLoader loader = ConfigValidator.class.getClassLoader();
        this.schema = ConfigFactory.parseResources(loader, "distillery-schema.conf",
                ConfigParseOptions.defaults().setAllowMissing(false)).resolve();
        this.freeForm = new HashSet<>(schema.getStringList("free-form"));
        this.files = new HashSet<>(schema.getStringList("files"));
        this.optional = new HashSet<>(schema.getStringList("optional-contributions"));
        schema.getObject("contributions").forEach((path, kind) -> contributions.put(unquote(path),
                ContributionKind.byName((String) kind.unwrapped()).orElseThrow()));
        schema.getObject("contribution-extra-keys").forEach((path, keys) -> extraKeys.put(unquote(path),
                schema.getStringList("contribution-extra-keys.\"" + unquote(path) + "\"")));
        this.defaultsOf = defaultsOf;
        this.keysOf = keysOf;
    }

    private static String unquote(String s) {
        return s.startsWith("\"") && s.endsWith("\"") ? s.substring(1, s.length() - 1) : s;
    }

    /** The experiment defaults bundled with the kernel. */
    public static Config experimentDefaults() {
        ClassLoader loader = ConfigValidator.class.getClassLoader();
        return ConfigFactory.parseResources(loader, "distillery-experiment.conf",
                ConfigParseOptions.defaults().setAllowMissing(false));
    }

    /** Validates {@code experiment} (defaults merged) against {@code defaults}; throws with every problem. */
    public void validate(Config experiment, Config defaults) {
        List<String> problems = new ArrayList<>();
        walk(experiment.root(), defaults.root(), "", problems);
        for (String f : files) {
            if (experiment.hasPath(f) && experiment.getValue(f).valueType() == ConfigValueType.STRING) {
                String v = experiment.getString(f);
                if (!v.isEmpty() && !Files.exists(Path.of(v))) {
                    problems.add(f + ": file not found (got \"" + v + "\"; accepted: an existing path, relative to "
                            + Path.of("").toAbsolutePath() + ")");
                }
            }
        }
        if (!problems.isEmpty()) {
            throw new ExperimentException(problems);
        }
    }

    private void walk(ConfigObject actual, ConfigObject expected, String prefix, List<String> problems) {
        for (Map.Entry<String, ConfigValue> e : actual.entrySet()) {
            String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
            ConfigValue value = e.getValue();
            if (freeForm.contains(path)) {
                if (value.valueType() != ConfigValueType.OBJECT) {
                    problems.add(wrongType(path, value, "an object"));
                }
                continue;
            }
            ContributionKind kind = contributions.get(path);
            if (kind != null) {
                if (value.valueType() == ConfigValueType.LIST) {
                    ConfigList list = (ConfigList) value;
                    for (int i = 0; i < list.size(); i++) {
                        contribution(path + "[" + i + "]", list.get(i), kind, extraKeys.getOrDefault(path, List.of()),
                                false, problems);
                    }
                } else {
                    contribution(path, value, kind, extraKeys.getOrDefault(path, List.of()), optional.contains(path),
                            problems);
                }
                continue;
            }
            ConfigValue def = expected.get(e.getKey());
            if (def == null) {
                problems.add(unknownKey(path, e.getKey(), expected.keySet(), value));
                continue;
            }
            if (!compatible(def, value)) {
                problems.add(wrongType(path, value, describe(def)));
            } else if (def.valueType() == ConfigValueType.OBJECT) {
                walk((ConfigObject) value, (ConfigObject) def, path, problems);
            }
        }
    }

    private void contribution(String path, ConfigValue value, ContributionKind kind, List<String> extra,
                              boolean mayBeEmpty, List<String> problems) {
        if (value.valueType() != ConfigValueType.OBJECT) {
            problems.add(wrongType(path, value, "an object {key, params}"));
            return;
        }
        ConfigObject obj = (ConfigObject) value;
        Set<String> allowed = new HashSet<>(List.of("key", "params"));
        allowed.addAll(extra);
        for (String k : obj.keySet()) {
            if (!allowed.contains(k)) {
                problems.add(unknownKey(path + "." + k, k, allowed, obj.get(k)));
            }
        }
        for (String k : extra) {
            ConfigValue v = obj.get(k);
            if (v != null && !compatible(ConfigValueFactoryHolder.NUMBER, v)) {
                problems.add(wrongType(path + "." + k, v, "a number"));
            }
        }
        ConfigValue keyValue = obj.get("key");
        if (keyValue == null || keyValue.valueType() != ConfigValueType.STRING) {
            problems.add(path + ".key: " + (keyValue == null ? "is missing" : "must be a string")
                    + " (accepted: " + String.join(", ", keysOf.apply(kind)) + ")");
            return;
        }
        String key = (String) keyValue.unwrapped();
        if (key.isEmpty() && mayBeEmpty) {
            return;
        }
        Optional<Config> defaults = defaultsOf.apply(kind, key);
        if (defaults.isEmpty()) {
            List<String> known = keysOf.apply(kind);
            String hint = Suggestions.closest(key, known).map(s -> "; did you mean " + s + "?").orElse("");
            problems.add(path + ".key: no registered " + kind.plural() + " named '" + key + "' (accepted: "
                    + (known.isEmpty() ? "none registered" : String.join(", ", known)) + hint + ")");
            return;
        }
        ConfigValue params = obj.get("params");
        if (params == null) {
            return;
        }
        if (params.valueType() != ConfigValueType.OBJECT) {
            problems.add(wrongType(path + ".params", params, "an object"));
            return;
        }
        walk((ConfigObject) params, defaults.get().root(), path + ".params", problems);
    }

    private static boolean compatible(ConfigValue def, ConfigValue value) {
        ConfigValueType want = def.valueType();
        ConfigValueType got = value.valueType();
        if (want == ConfigValueType.NULL || want == got) {
            return true;
        }
        if (got == ConfigValueType.NULL) {
            return false;
        }
        return switch (want) {
            case NUMBER -> got == ConfigValueType.STRING && isNumber((String) value.unwrapped());
            case BOOLEAN -> got == ConfigValueType.STRING && isBoolean((String) value.unwrapped());
            case STRING -> got == ConfigValueType.NUMBER || got == ConfigValueType.BOOLEAN;
            default -> false;
        };
    }

    private static boolean isNumber(String s) {
        try {
            Double.parseDouble(s.trim());
            return true;
        } catch (NumberFormatException e) {
            return false;
        }
    }

    private static boolean isBoolean(String s) {
        return List.of("true", "false", "yes", "no", "on", "off").contains(s.trim().toLowerCase());
    }

    private static String describe(ConfigValue def) {
        return switch (def.valueType()) {
            case OBJECT -> "an object";
            case LIST -> "a list";
            case NUMBER -> "a number";
            case BOOLEAN -> "true or false";
            default -> "a string";
        };
    }

    private static String render(ConfigValue v) {
        String s = v.render(com.typesafe.config.ConfigRenderOptions.concise());
        return s.length() > 80 ? s.substring(0, 77) + "..." : s;
    }

    private static String wrongType(String path, ConfigValue value, String accepted) {
        return path + ": wrong type " + value.valueType().name().toLowerCase() + " (got " + render(value)
                + "; accepted: " + accepted + ")" + origin(value);
    }

    private static String unknownKey(String path, String key, Set<String> known, ConfigValue value) {
        List<String> sorted = known.stream().sorted().toList();
        String hint = Suggestions.closest(key, sorted).map(s -> "; did you mean " + s + "?").orElse("");
        return path + ": unknown key (got " + render(value) + "; accepted: " + String.join(", ", sorted) + hint + ")"
                + origin(value);
    }

    private static String origin(ConfigValue v) {
        var o = v.origin();
        if (o == null || o.filename() == null) {
            return "";
        }
        return " [" + o.filename() + (o.lineNumber() > 0 ? ":" + o.lineNumber() : "") + "]";
    }

    /** A number value to compare extra keys against. */
    private static final class ConfigValueFactoryHolder {
        static final ConfigValue NUMBER = com.typesafe.config.ConfigValueFactory.fromAnyRef(1.0);
    }
}
