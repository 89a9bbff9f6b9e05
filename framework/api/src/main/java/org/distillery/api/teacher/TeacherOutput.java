package org.distillery.api.teacher;

import java.util.List;

import ai.djl.ndarray.NDArray;

/**
 * The teacher's view of a batch: full logits, or the top-k log-probabilities with the mass
 * left over (from a cache or a black-box endpoint).
 *
 * @param logits [batch, seq, vocab], or {@code null} when only top-k is known
 * @param topIds [batch, seq, k] int64 token ids, or {@code null} with full logits
 * @param topLogProbs [batch, seq, k] log-probabilities of {@code topIds}, or {@code null}
 * @param restLogMass [batch, seq] log of the probability mass outside the top k, or {@code null}
 * @param hiddenStates hidden states when requested, else empty
 */
public record TeacherOutput(NDArray logits, NDArray topIds, NDArray topLogProbs, NDArray restLogMass,
                            List<NDArray> hiddenStates) {

    /** True when full logits are available. */
    public boolean hasLogits() {
        return logits != null;
    }
}
