package org.distillery.datagen.internal;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.InvalidConfigException;

/**
 * A contribution's parameters read with their experiment path, so that every bad value fails with
 * an {@link InvalidConfigException} naming where it was written, e.g.
 * {@code method.params.datasets[0].generator.params.rouge-threshold}.
 */
final class Params {

    private final Config config;
    private final String path;

    Params(Config config, String path) {
        this.config = config;
        this.path = path;
    }

    /** The path of {@code key} under these parameters. */
    String at(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    Config config() {
        return config;
    }

    String path() {
        return path;
    }

    boolean has(String key) {
        return config.hasPath(key);
    }

    Params child(String key) {
        try {
            return new Params(config.getConfig(key), at(key));
        } catch (ConfigException e) {
            throw wrongType(key, "an object");
        }
    }

    String string(String key) {
        try {
            return config.getString(key);
        } catch (ConfigException e) {
            throw wrongType(key, "a string");
        }
    }

    /** A string from {@code accepted}. */
    String choice(String key, String... accepted) {
        String v = string(key);
        if (!List.of(accepted).contains(v)) {
            throw new InvalidConfigException(at(key), "unknown value", v, String.join(", ", accepted));
        }
        return v;
    }

    boolean bool(String key) {
        try {
            return config.getBoolean(key);
        } catch (ConfigException e) {
            throw wrongType(key, "true or false");
        }
    }

    double number(String key) {
        try {
            double v = config.getDouble(key);
            if (!Double.isFinite(v)) {
                throw new InvalidConfigException(at(key), "must be finite", String.valueOf(v), "a finite number");
            }
            return v;
        } catch (ConfigException e) {
            throw wrongType(key, "a number");
        }
    }

    double number(String key, double min, double max) {
        double v = number(key);
        if (v < min || v > max) {
            throw new InvalidConfigException(at(key), "out of range", render(key), "[" + min + ", " + max + "]");
        }
        return v;
    }

    int integer(String key, int min) {
        int v;
        try {
            v = config.getInt(key);
        } catch (ConfigException e) {
            throw wrongType(key, "an integer");
        }
        if (v < min) {
            throw new InvalidConfigException(at(key), "must be >= " + min, String.valueOf(v), "an integer >= " + min);
        }
        return v;
    }

    List<String> strings(String key) {
        try {
            return config.getStringList(key);
        } catch (ConfigException e) {
            throw wrongType(key, "a list of strings");
        }
    }

    /** A template string that must contain each of {@code placeholders}. */
    String template(String key, String... placeholders) {
        String v = string(key);
        for (String p : placeholders) {
            if (!v.contains("{" + p + "}")) {
                throw new InvalidConfigException(at(key), "must contain {" + p + "}", quote(v),
                        "a template with " + String.join(", ", List.of(placeholders).stream().map(x -> "{" + x + "}")
                                .toList()));
            }
        }
        return v;
    }

    private InvalidConfigException wrongType(String key, String accepted) {
        return new InvalidConfigException(at(key), config.hasPath(key) ? "wrong type" : "is missing",
                config.hasPath(key) ? render(key) : null, accepted);
    }

    private String render(String key) {
        return config.getValue(key).render(com.typesafe.config.ConfigRenderOptions.concise());
    }

    static String quote(String s) {
        String t = s.length() > 60 ? s.substring(0, 57) + "..." : s;
        return "\"" + t.replace("\n", "\\n") + "\"";
    }

    /**
     * Checks that {@code actual} has only keys of {@code defaults}, with compatible types, and
     * throws for the first that is not (the kernel checks only the experiment's fixed contribution
     * nodes; generator nodes inside {@code data.distill} are checked here).
     */
    static void checkKnown(ConfigObject actual, ConfigObject defaults, String path) {
        for (Map.Entry<String, ConfigValue> e : actual.entrySet()) {
            String p = path + "." + e.getKey();
            ConfigValue def = defaults.get(e.getKey());
            if (def == null) {
                throw new InvalidConfigException(p, "unknown key", e.getValue().render(
                        com.typesafe.config.ConfigRenderOptions.concise()), String.join(", ",
                        defaults.keySet().stream().sorted().toList()));
            }
            ConfigValueType want = def.valueType();
            ConfigValueType got = e.getValue().valueType();
            boolean ok = want == got || want == ConfigValueType.NULL
                    || (want == ConfigValueType.STRING && (got == ConfigValueType.NUMBER || got == ConfigValueType.BOOLEAN))
                    || (want != ConfigValueType.OBJECT && want != ConfigValueType.LIST && got == ConfigValueType.STRING);
            if (!ok) {
                throw new InvalidConfigException(p, "wrong type", e.getValue().render(
                        com.typesafe.config.ConfigRenderOptions.concise()), want.name().toLowerCase());
            }
            if (want == ConfigValueType.OBJECT && got == ConfigValueType.OBJECT && !((ConfigObject) def).isEmpty()) {
                checkKnown((ConfigObject) e.getValue(), (ConfigObject) def, p);
            }
        }
    }
}
