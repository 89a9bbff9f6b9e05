package org.distillery.teachers.cache;

import java.util.Locale;

/** How a cache stores log-probabilities. */
public enum ValueType {
    /** IEEE 754 binary16: 2 bytes, about 3 significant decimal digits; the default. */
    FP16(1, 2),
    /** IEEE 754 binary32: 4 bytes, exact copies of the computed float values. */
    FP32(2, 4);

    private final int code;
    private final int bytes;

    ValueType(int code, int bytes) {
        this.code = code;
        this.bytes = bytes;
    }

    /** The code stored in the header. */
    int code() {
        return code;
    }

    /** Bytes per value. */
    public int bytes() {
        return bytes;
    }

    /** The type with header code {@code code}, or {@code null}. */
    static ValueType ofCode(int code) {
        for (ValueType v : values()) {
            if (v.code == code) {
                return v;
            }
        }
        return null;
    }

    /** Parses {@code fp16} or {@code fp32}, ignoring case. */
    public static ValueType parse(String s) {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
    }
}
