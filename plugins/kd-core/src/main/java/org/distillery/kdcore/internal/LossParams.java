package org.distillery.kdcore.internal;

import java.util.Arrays;
import java.util.Locale;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;

/**
 * Range checks for loss parameters. The kernel has already rejected unknown keys and wrong
 * types against {@code reference.conf}; these checks reject values of the right type that
 * make no sense, naming the parameter, the value and what is accepted.
 */
final class LossParams {

    private LossParams() {
    }

    /** A strictly positive number. */
    static double positive(Config params, String key) {
        double v = params.getDouble(key);
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new InvalidConfigException(key, "must be a positive number", String.valueOf(v), "> 0");
        }
        return v;
    }

    /** A number in {@code [0, 1]}, or in {@code [0, 1)} when {@code oneAllowed} is false. */
    static double unitInterval(Config params, String key, boolean oneAllowed) {
        double v = params.getDouble(key);
        boolean ok = v >= 0 && (oneAllowed ? v <= 1 : v < 1);
        if (!ok) {
            throw new InvalidConfigException(key, "out of range", String.valueOf(v), oneAllowed ? "[0, 1]" : "[0, 1)");
        }
        return v;
    }

    /** An integer not below {@code min}. */
    static int atLeast(Config params, String key, int min) {
        int v = params.getInt(key);
        if (v < min) {
            throw new InvalidConfigException(key, "too small", String.valueOf(v), ">= " + min);
        }
        return v;
    }

    /** One of the constants of {@code type}, written in lowercase. */
    static <E extends Enum<E>> E choice(Config params, String key, Class<E> type) {
        String v = params.getString(key);
        for (E e : type.getEnumConstants()) {
            if (e.name().toLowerCase(Locale.ROOT).equals(v)) {
                return e;
            }
        }
        String accepted = String.join(", ", Arrays.stream(type.getEnumConstants())
                .map(e -> e.name().toLowerCase(Locale.ROOT)).toList());
        throw new InvalidConfigException(key, "unknown choice", v, accepted);
    }
}
