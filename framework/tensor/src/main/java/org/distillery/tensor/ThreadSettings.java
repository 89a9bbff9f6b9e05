package org.distillery.tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * PyTorch's thread counts for this process, and where they came from.
 *
 * @param intraOp threads one operator may use (matrix products, reductions)
 * @param interOp threads running independent operators at once (1: one operator at a time)
 * @param source why these counts, e.g. {@code experiment.threads = 2} or
 *     {@code auto: 2 cores available (2 online, affinity 2, no cgroup quota)}
 */
public record ThreadSettings(int intraOp, int interOp, String source) {

    /** Checks the counts. */
    public ThreadSettings {
        if (intraOp < 1 || interOp < 1) {
            throw new IllegalArgumentException("thread counts must be at least 1 (got intra-op " + intraOp
                    + ", inter-op " + interOp + ")");
        }
    }

    /** The same counts with another source. */
    public ThreadSettings withSource(String newSource) {
        return new ThreadSettings(intraOp, interOp, newSource);
    }

    /** E.g. {@code intra-op 2, inter-op 1 (auto: ...)}. */
    public String describe() {
        return "intra-op " + intraOp + ", inter-op " + interOp + " (" + source + ")";
    }

    /** The fields of a run's event log: {@code intra_op}, {@code inter_op}, {@code source}. */
    public Map<String, Object> toEvent() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("intra_op", intraOp);
        m.put("inter_op", interOp);
        m.put("source", source);
        return m;
    }
}
