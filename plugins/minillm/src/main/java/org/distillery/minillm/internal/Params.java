package org.distillery.minillm.internal;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;

/**
 * Range checks of the minillm contributions' parameters. The kernel has already rejected
 * unknown keys and wrong types against {@code reference.conf}; these reject values of the
 * right type that make no sense, naming the parameter by {@code where} (for example
 * {@code train.sampler.params}) and its key.
 */
final class Params {

    private final Config params;
    private final String where;

    Params(Config params, String where) {
        this.params = params;
        this.where = where;
    }

    /** The config path of {@code key}, for messages. */
    String path(String key) {
        return where + "." + key;
    }

    /** A number in {@code [min, max]}. */
    double range(String key, double min, double max) {
        double v = params.getDouble(key);
        if (!(v >= min && v <= max)) {
            throw new InvalidConfigException(path(key), "out of range", String.valueOf(v), "[" + min + ", " + max + "]");
        }
        return v;
    }

    /** A strictly positive, finite number. */
    double positive(String key) {
        double v = params.getDouble(key);
        if (!(v > 0) || Double.isInfinite(v)) {
            throw new InvalidConfigException(path(key), "must be a positive number", String.valueOf(v), "> 0");
        }
        return v;
    }

    /** An integer not below {@code min}. */
    int atLeast(String key, int min) {
        int v = params.getInt(key);
        if (v < min) {
            throw new InvalidConfigException(path(key), "too small", String.valueOf(v), ">= " + min);
        }
        return v;
    }

    /** A boolean. */
    boolean flag(String key) {
        return params.getBoolean(key);
    }

    /** A string. */
    String string(String key) {
        return params.getString(key);
    }
}
