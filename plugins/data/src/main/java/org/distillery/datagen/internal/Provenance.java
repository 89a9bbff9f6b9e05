package org.distillery.datagen.internal;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What a generated dataset records about itself ({@code provenance.json}): the generator, the
 * endpoint (never its key), the templates, the filters and, per pipeline step, how many samples
 * came in, were kept and were dropped and why. {@link #step} keeps the counts consistent:
 * {@code in = kept + sum(dropped)}.
 */
final class Provenance {

    private final Map<String, Object> root = new LinkedHashMap<>();
    private final Map<String, Map<String, Object>> steps = new LinkedHashMap<>();

    Provenance(String generator) {
        root.put("generator", generator);
    }

    /** A top-level entry (endpoint, templates, filters, seed, ...). */
    Provenance put(String key, Object value) {
        root.put(key, value);
        return this;
    }

    /** The counter of one pipeline step. */
    Step step(String name) {
        Map<String, Object> m = steps.computeIfAbsent(name, k -> new LinkedHashMap<>());
        return new Step(m);
    }

    /** Counts of a step: in, kept, dropped by reason. */
    static final class Step {
        private final Map<String, Object> m;

        Step(Map<String, Object> m) {
            this.m = m;
            m.putIfAbsent("in", 0L);
            m.putIfAbsent("kept", 0L);
            m.putIfAbsent("dropped", new LinkedHashMap<String, Long>());
        }

        void kept() {
            m.put("in", (Long) m.get("in") + 1);
            m.put("kept", (Long) m.get("kept") + 1);
        }

        void dropped(String reason) {
            m.put("in", (Long) m.get("in") + 1);
            @SuppressWarnings("unchecked")
            Map<String, Long> d = (Map<String, Long>) m.get("dropped");
            d.merge(reason, 1L, Long::sum);
        }

        long in() {
            return (Long) m.get("in");
        }

        long keptCount() {
            return (Long) m.get("kept");
        }

        void note(String key, Object value) {
            m.put(key, value);
        }
    }

    /** Flat figures for the stage result: {@code <step>.in}, {@code <step>.kept}, {@code <step>.dropped}. */
    Map<String, Double> metrics() {
        Map<String, Double> out = new LinkedHashMap<>();
        steps.forEach((name, m) -> {
            out.put(name + ".in", ((Long) m.get("in")).doubleValue());
            out.put(name + ".kept", ((Long) m.get("kept")).doubleValue());
            @SuppressWarnings("unchecked")
            Map<String, Long> d = (Map<String, Long>) m.get("dropped");
            out.put(name + ".dropped", (double) d.values().stream().mapToLong(Long::longValue).sum());
        });
        return out;
    }

    /** The whole record, steps last. */
    Map<String, Object> toMap(int records) {
        Map<String, Object> out = new LinkedHashMap<>(root);
        out.put("steps", steps);
        out.put("records", records);
        return out;
    }
}
