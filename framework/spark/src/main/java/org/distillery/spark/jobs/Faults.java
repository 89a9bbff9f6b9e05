package org.distillery.spark.jobs;

import java.io.Serializable;

import org.apache.spark.TaskContext;

/**
 * A fault hook for tests of retries: Spark conf {@code spark.distillery.test.fail-once = P:N}
 * makes the first attempt of the task of partition P fail after it produced N records. Spark runs
 * the task again; the output must be the same, with no duplicates.
 *
 * @param partition the partition whose first attempt fails, or -1 for none
 * @param afterRecords records produced before it fails
 */
record Faults(int partition, long afterRecords) implements Serializable {

    /** The conf key. */
    static final String KEY = "spark.distillery.test.fail-once";

    /** No fault. */
    static final Faults NONE = new Faults(-1, 0);

    /** Parses {@code P:N}, or none for an empty value. */
    static Faults parse(String spec) {
        if (spec == null || spec.isBlank()) {
            return NONE;
        }
        String[] p = spec.split(":");
        return new Faults(Integer.parseInt(p[0].trim()), Long.parseLong(p[1].trim()));
    }

    /** Throws in the chosen task's first attempt once it has produced {@code produced} records. */
    void check(long produced) {
        TaskContext tc = TaskContext.get();
        if (partition >= 0 && tc != null && tc.partitionId() == partition && tc.attemptNumber() == 0
                && produced >= afterRecords) {
            throw new IllegalStateException("injected failure (" + KEY + "): partition " + partition + ", attempt 0, after "
                    + produced + " records");
        }
    }
}
