package org.distillery.moe.internal;

import java.util.Arrays;
import java.util.Locale;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;

/**
 * Range checks for the moe bundle's parameters. The kernel has already rejected unknown keys and
 * wrong types against {@code reference.conf}; these reject values of the right type that make no
 * sense, naming the full config path ({@code prefix + key}), the value and what is accepted.
 */
final class Params {

    private final Config params;
    private final String prefix;

    /**
     * Wraps a parameter block.
     *
     * @param params the validated parameters, defaults filled in
     * @param prefix the config path of the block with a trailing dot, e.g. {@code teacher.params.}
     */
    Params(Config params, String prefix) {
        this.params = params;
        this.prefix = prefix;
    }

    /** The full path of {@code key}. */
    String path(String key) {
        return prefix + key;
    }

    /** The raw block. */
    Config config() {
        return params;
    }

    String string(String key) {
        return params.getString(key);
    }

    /** An integer not below {@code min}. */
    int atLeast(String key, int min) {
        int v = params.getInt(key);
        if (v < min) {
            throw new InvalidConfigException(path(key), "too small", String.valueOf(v), ">= " + min);
        }
        return v;
    }

    /** A number in [0, 1]. */
    double probability(String key) {
        double v = params.getDouble(key);
        if (!(v >= 0 && v <= 1)) {
            throw new InvalidConfigException(path(key), "out of range", String.valueOf(v), "[0, 1]");
        }
        return v;
    }

    /** A finite number not below 0. */
    double nonNegative(String key) {
        double v = params.getDouble(key);
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new InvalidConfigException(path(key), "must not be negative", String.valueOf(v), ">= 0");
        }
        return v;
    }

    /** A finite number above 0. */
    double positive(String key) {
        double v = params.getDouble(key);
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new InvalidConfigException(path(key), "must be a positive number", String.valueOf(v), "> 0");
        }
        return v;
    }

    /** One of the constants of {@code type}, written in lowercase with '-' for '_'. */
    <E extends Enum<E>> E choice(String key, Class<E> type) {
        String v = params.getString(key);
        for (E e : type.getEnumConstants()) {
            if (name(e).equals(v)) {
                return e;
            }
        }
        throw new InvalidConfigException(path(key), "unknown choice", v,
                String.join(", ", Arrays.stream(type.getEnumConstants()).map(Params::name).toList()));
    }

    /** The config spelling of an enum constant. */
    static String name(Enum<?> e) {
        return e.name().toLowerCase(Locale.ROOT).replace('_', '-');
    }
}
