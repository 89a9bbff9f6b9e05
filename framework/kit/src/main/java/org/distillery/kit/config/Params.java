package org.distillery.kit.config;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.LossSpec;

/**
 * A contribution's parameters read with the config path they were written at, so that every
 * value of the right type that makes no sense fails with an {@link InvalidConfigException} naming
 * where it was written, the value and what is accepted, e.g.
 * {@code train.loss[0].params.temperature: must be a positive number (got -1.0; accepted: > 0)}.
 * The kernel has already rejected unknown keys and wrong types against the contribution's
 * {@code reference.conf}; these checks are the ranges, choices and shapes.
 *
 * <pre>
 * Params p = Params.of(params, context.paramsPath());
 * double tau = p.positive("temperature");
 * int chunk = p.integer("chunk-size", 1);
 * Metric metric = p.choice("metric", Metric.class);      // mse | cosine
 * </pre>
 */
public final class Params {

    private final Config config;
    private final String path;

    private Params(Config config, String path) {
        this.config = config;
        this.path = path == null ? "" : path;
    }

    /**
     * Wraps a parameter block.
     *
     * @param config the parameters, defaults filled in
     * @param path the config path of the block, e.g. {@code train.loss[0].params}; {@code ""} for none
     */
    public static Params of(Config config, String path) {
        return new Params(config, path);
    }

    /** The block. */
    public Config config() {
        return config;
    }

    /** The block's config path. */
    public String path() {
        return path;
    }

    /** The config path of {@code key} in this block. */
    public String at(String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    /** True if {@code key} is set. */
    public boolean has(String key) {
        return config.hasPath(key);
    }

    /** The object at {@code key}, as parameters of its own path. */
    public Params child(String key) {
        try {
            return new Params(config.getConfig(key), at(key));
        } catch (ConfigException e) {
            throw wrongType(key, "an object");
        }
    }

    /** A string. */
    public String string(String key) {
        try {
            return config.getString(key);
        } catch (ConfigException e) {
            throw wrongType(key, "a string");
        }
    }

    /** A string from {@code accepted}. */
    public String choice(String key, String... accepted) {
        String v = string(key);
        if (!List.of(accepted).contains(v)) {
            throw new InvalidConfigException(at(key), "unknown choice", v, String.join(", ", accepted));
        }
        return v;
    }

    /** One of the constants of {@code type}, written in lowercase with {@code -} for {@code _} (see {@link #name}). */
    public <E extends Enum<E>> E choice(String key, Class<E> type) {
        String v = string(key);
        for (E e : type.getEnumConstants()) {
            if (name(e).equals(v)) {
                return e;
            }
        }
        throw new InvalidConfigException(at(key), "unknown choice", v,
                String.join(", ", Arrays.stream(type.getEnumConstants()).map(Params::name).toList()));
    }

    /** A boolean. */
    public boolean bool(String key) {
        try {
            return config.getBoolean(key);
        } catch (ConfigException e) {
            throw wrongType(key, "true or false");
        }
    }

    /** A finite number. */
    public double number(String key) {
        double v;
        try {
            v = config.getDouble(key);
        } catch (ConfigException e) {
            throw wrongType(key, "a number");
        }
        if (!Double.isFinite(v)) {
            throw new InvalidConfigException(at(key), "must be finite", String.valueOf(v), "a finite number");
        }
        return v;
    }

    /** A number in {@code [min, max]}. */
    public double number(String key, double min, double max) {
        double v = number(key);
        if (v < min || v > max) {
            throw new InvalidConfigException(at(key), "out of range", String.valueOf(v), "[" + min + ", " + max + "]");
        }
        return v;
    }

    /** A finite number above 0. */
    public double positive(String key) {
        double v = number(key);
        if (!(v > 0)) {
            throw new InvalidConfigException(at(key), "must be a positive number", String.valueOf(v), "> 0");
        }
        return v;
    }

    /** A finite number not below 0. */
    public double nonNegative(String key) {
        double v = number(key);
        if (!(v >= 0)) {
            throw new InvalidConfigException(at(key), "must not be negative", String.valueOf(v), ">= 0");
        }
        return v;
    }

    /** A probability: a number in {@code [0, 1]}. */
    public double probability(String key) {
        return number(key, 0, 1);
    }

    /** A number in {@code [0, 1)}: a ratio that must leave something (label smoothing, skew). */
    public double fraction(String key) {
        double v = number(key);
        if (!(v >= 0 && v < 1)) {
            throw new InvalidConfigException(at(key), "out of range", String.valueOf(v), "[0, 1)");
        }
        return v;
    }

    /** An integer not below {@code min}. */
    public int integer(String key, int min) {
        long v = whole(key);
        if (v < min) {
            throw new InvalidConfigException(at(key), "too small", String.valueOf(v), ">= " + min);
        }
        if (v > Integer.MAX_VALUE) {
            throw new InvalidConfigException(at(key), "too large", String.valueOf(v), "<= " + Integer.MAX_VALUE);
        }
        return (int) v;
    }

    /** A long integer not below {@code min}. */
    public long longInteger(String key, long min) {
        long v = whole(key);
        if (v < min) {
            throw new InvalidConfigException(at(key), "too small", String.valueOf(v), ">= " + min);
        }
        return v;
    }

    /**
     * A whole number. Typesafe Config reads {@code 1.5} as the integer 1 and {@code 1e30} as the
     * largest long; here both are refused.
     */
    private long whole(String key) {
        long v;
        double d;
        try {
            v = config.getLong(key);
            d = config.getDouble(key);
        } catch (ConfigException e) {
            throw wrongType(key, "an integer");
        }
        if (d != (double) v) {
            throw new InvalidConfigException(at(key), "must be a whole number",
                    config.getValue(key).render(ConfigRenderOptions.concise()), "an integer");
        }
        return v;
    }

    /** A list of strings. */
    public List<String> strings(String key) {
        try {
            return config.getStringList(key);
        } catch (ConfigException e) {
            throw wrongType(key, "a list of strings");
        }
    }

    /** A template string that must contain each of {@code placeholders} as {@code {name}}. */
    public String template(String key, String... placeholders) {
        String v = string(key);
        for (String p : placeholders) {
            if (!v.contains("{" + p + "}")) {
                throw new InvalidConfigException(at(key), "must contain {" + p + "}", quote(v),
                        "a template with " + String.join(", ", Arrays.stream(placeholders).map(x -> "{" + x + "}")
                                .toList()));
            }
        }
        return v;
    }

    /** A list of loss terms {@code [{key, weight, params}, ...]}; an empty list is allowed. */
    public List<LossSpec> losses(String key) {
        List<? extends Config> list;
        try {
            list = config.getConfigList(key);
        } catch (ConfigException e) {
            throw wrongType(key, "a list of {key, weight, params}");
        }
        List<LossSpec> out = new ArrayList<>();
        for (int i = 0; i < list.size(); i++) {
            Params term = new Params(list.get(i), at(key) + "[" + i + "]");
            for (String k : list.get(i).root().keySet()) {
                if (!List.of("key", "weight", "params").contains(k)) {
                    throw new InvalidConfigException(term.at(k), "unknown key", null, "key, weight, params");
                }
            }
            if (!term.has("key") || term.string("key").isEmpty()) {
                throw new InvalidConfigException(term.at("key"), "is missing", null, "a registered loss key");
            }
            double weight = term.has("weight") ? term.number("weight") : 1.0;
            Config params = term.has("params") ? term.child("params").config() : ConfigFactory.empty();
            out.add(new LossSpec(term.string("key"), weight, params));
        }
        return List.copyOf(out);
    }

    /** A {@code {key, params}} node naming a contribution. */
    public ContributionRef contribution(String key) {
        Params node = child(key);
        for (String k : node.config.root().keySet()) {
            if (!List.of("key", "params").contains(k)) {
                throw new InvalidConfigException(node.at(k), "unknown key", null, "key, params");
            }
        }
        if (!node.has("key")) {
            throw new InvalidConfigException(node.at("key"), "is missing", null, "a registered key");
        }
        return new ContributionRef(node.string("key"),
                node.has("params") ? node.child("params").config() : ConfigFactory.empty());
    }

    /** Rejects every key of this block not in {@code allowed}, naming the ones accepted. */
    public Params allowOnly(String... allowed) {
        for (String k : config.root().keySet()) {
            if (!List.of(allowed).contains(k)) {
                throw new InvalidConfigException(at(k), "unknown key", null, String.join(", ", allowed));
            }
        }
        return this;
    }

    /** The config spelling of an enum constant: lowercase, {@code -} for {@code _}. */
    public static String name(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }

    /** A string quoted for a message, shortened to 60 characters, newlines escaped. */
    public static String quote(String s) {
        String t = s.length() > 60 ? s.substring(0, 57) + "..." : s;
        return "\"" + t.replace("\n", "\\n") + "\"";
    }

    /**
     * Checks that {@code actual} has only keys of {@code defaults}, with compatible types, and throws
     * for the first that is not, naming its path under {@code path}. The kernel does this for the
     * experiment's contribution nodes; a method that nests contribution nodes in its own parameters
     * checks them with this.
     */
    public static void checkKnown(ConfigObject actual, ConfigObject defaults, String path) {
        for (Map.Entry<String, ConfigValue> e : actual.entrySet()) {
            String p = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
            ConfigValue def = defaults.get(e.getKey());
            if (def == null) {
                throw new InvalidConfigException(p, "unknown key", e.getValue().render(ConfigRenderOptions.concise()),
                        String.join(", ", defaults.keySet().stream().sorted().toList()));
            }
            ConfigValueType want = def.valueType();
            ConfigValueType got = e.getValue().valueType();
            boolean ok = want == got || want == ConfigValueType.NULL
                    || (want == ConfigValueType.STRING && (got == ConfigValueType.NUMBER || got == ConfigValueType.BOOLEAN))
                    || (want != ConfigValueType.OBJECT && want != ConfigValueType.LIST && got == ConfigValueType.STRING);
            if (!ok) {
                throw new InvalidConfigException(p, "wrong type", e.getValue().render(ConfigRenderOptions.concise()),
                        want.name().toLowerCase(Locale.ROOT));
            }
            if (want == ConfigValueType.OBJECT && got == ConfigValueType.OBJECT && !((ConfigObject) def).isEmpty()) {
                checkKnown((ConfigObject) e.getValue(), (ConfigObject) def, p);
            }
        }
    }

    private InvalidConfigException wrongType(String key, String accepted) {
        return new InvalidConfigException(at(key), config.hasPath(key) ? "wrong type" : "is missing",
                config.hasPath(key) ? config.getValue(key).render(ConfigRenderOptions.concise()) : null, accepted);
    }
}
