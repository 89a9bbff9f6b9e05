package org.distillery.kit.rollout;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One sampled sequence and named values of its response tokens: {@code values.get(name)[j]} belongs
 * to the token {@code ids[promptLength + j]} (for instance its log-probability under the policy that
 * sampled it, or its advantage).
 *
 * @param ids prompt then response tokens
 * @param promptLength tokens of prompt
 * @param values per-token values of the response, each of length {@code ids.length - promptLength},
 *     in insertion order
 */
public record Rollout(int[] ids, int promptLength, Map<String, float[]> values) {

    /** Checks the lengths and keeps the values' order. */
    public Rollout {
        if (promptLength < 0 || promptLength > ids.length) {
            throw new IllegalArgumentException("prompt length " + promptLength + " outside 0.." + ids.length);
        }
        Map<String, float[]> copy = new LinkedHashMap<>();
        for (Map.Entry<String, float[]> e : values.entrySet()) {
            if (e.getValue().length != ids.length - promptLength) {
                throw new IllegalArgumentException("value '" + e.getKey() + "' has " + e.getValue().length
                        + " entries for " + (ids.length - promptLength) + " response tokens");
            }
            copy.put(e.getKey(), e.getValue());
        }
        values = java.util.Collections.unmodifiableMap(copy);
    }

    /** A rollout without values yet. */
    public static Rollout of(int[] ids, int promptLength) {
        return new Rollout(ids, promptLength, Map.of());
    }

    /** Response tokens. */
    public int responseLength() {
        return ids.length - promptLength;
    }

    /** The response tokens. */
    public int[] response() {
        return Arrays.copyOfRange(ids, promptLength, ids.length);
    }

    /** The value {@code name}; fails naming the values present when it is missing. */
    public float[] value(String name) {
        float[] v = values.get(name);
        if (v == null) {
            throw new IllegalArgumentException("the rollout has no value '" + name + "' (it has " + values.keySet()
                    + ")");
        }
        return v;
    }

    /** A copy with {@code name} set to {@code v} (added at the end, or replaced in place). */
    public Rollout with(String name, float[] v) {
        Map<String, float[]> m = new LinkedHashMap<>(values);
        m.put(name, v);
        return new Rollout(ids, promptLength, m);
    }

    /** A copy with the same value {@code x} at every response token. */
    public Rollout withConstant(String name, float x) {
        float[] v = new float[responseLength()];
        Arrays.fill(v, x);
        return with(name, v);
    }
}
