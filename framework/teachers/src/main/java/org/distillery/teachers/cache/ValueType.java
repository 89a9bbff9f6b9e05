package org.distillery.teachers.cache;

import java.util.Locale;

/** How a cache stores log-probabilities. */
public enum ValueType {
    /** IEEE 754 binary16: 2 bytes, about 3 significant decimal digits; the default. */
    FP16(1, 2),
    /** IEEE 754 binary32: 4 bytes, exact copies of the computed float values. */
    FP32(2, 4),
    /**
     * Format version 2: the top-1 log-probability in fp16, every other entry as an 8-bit gap below it
     * on a square-root scale (within 0.016 nats at a gap of 0.5, 0.06 at 8, saturating at 31.75), ids as
     * Rice-coded gaps in increasing order; about 1.7 bytes per entry at k = 32 for a few hundred ids.
     */
    Q8(3, 1),
    /**
     * Format version 2 at 4 bits a value: the top-1 log-probability in fp16, every other entry as a 4-bit
     * gap below it on an exponential scale (steps of 0.23 nats next to the top-1, 1.2 around 6 nats, saturating
     * at 12), ids in increasing order as Rice- or exponential-Golomb-coded gaps, whichever is shorter per
     * position, so small (frequent, in BPE vocabularies) ids cost few bits; under 2 bytes per entry at
     * k = 32 for vocabularies up to 200k ids whose top-k ids cluster as a language model's do.
     */
    Q4(4, 1);

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

    /** Whether this type is stored in format version 2 (compact positions of varying length). */
    public boolean compact() {
        return this == Q8 || this == Q4;
    }

    /** Bits of a value's code in format version 2: 8 or 4; 0 for the fixed-stride types. */
    int codeBits() {
        return this == Q8 ? 8 : this == Q4 ? 4 : 0;
    }

    /** Bytes per value (one code per entry for {@link #Q8}, whose positions also vary in length). */
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

    /**
     * The largest vocabulary {@code auto} stores in {@link #Q8}: up to it, even top-k ids spread evenly
     * over the vocabulary keep q8 within 2 bytes an entry at k = 32 (log2(V / 32) + 1.4 bits an id, 8 a
     * value and 1 of each position's top-1 and rest mass); above it {@code auto} takes {@link #Q4}.
     */
    public static final int AUTO_Q8_MAX_VOCABULARY = 1536;

    /** Parses {@code fp16}, {@code fp32}, {@code q8} or {@code q4}, ignoring case. */
    public static ValueType parse(String s) {
        return valueOf(s.trim().toUpperCase(Locale.ROOT));
    }

    /** Whether {@code s} is a type or {@code auto}, ignoring case. */
    public static boolean valid(String s) {
        try {
            parse(s, 1);
            return true;
        } catch (IllegalArgumentException e) {
            return false;
        }
    }

    /**
     * Parses a type as {@link #parse}, or {@code auto}: {@link #Q8} for a vocabulary of at most
     * {@link #AUTO_Q8_MAX_VOCABULARY} ids, {@link #Q4} above.
     */
    public static ValueType parse(String s, int vocabulary) {
        if (s.trim().equalsIgnoreCase("auto")) {
            return vocabulary <= AUTO_Q8_MAX_VOCABULARY ? Q8 : Q4;
        }
        return parse(s);
    }
}
