package org.distillery.api.run;

import java.util.Map;

/**
 * A run's JSONL event log: one line per step and one per event, each with a timestamp.
 * Values are strings, numbers, booleans, or lists and maps of those.
 */
public interface EventLog {

    /** A log that keeps nothing: for work outside a run, which prints what it reports. */
    EventLog DISCARD = new EventLog() {
        @Override
        public void event(String type, Map<String, ?> fields) {
        }

        @Override
        public void step(long step, Map<String, ?> figures) {
        }
    };

    /** Records a named event, e.g. {@code loss-swap} with its old and new provenance. */
    void event(String type, Map<String, ?> fields);

    /** Records one optimisation step's figures. */
    void step(long step, Map<String, ?> figures);
}
