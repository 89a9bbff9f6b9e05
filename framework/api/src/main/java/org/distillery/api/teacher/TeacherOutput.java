package org.distillery.api.teacher;

import ai.djl.ndarray.NDArray;
import java.util.List;

/**
 * The teacher's view of a batch: full logits, or the top-k log-probabilities with the mass
 * left over (from a cache or a black-box endpoint).
 *
 * @param logits [batch, seq, vocab], or {@code null} when only top-k is known
 * @param topIds [batch, seq, k] int64 token ids, or {@code null} with full logits
 * @param topLogProbs [batch, seq, k] log-probabilities of {@code topIds}, or {@code null}
 * @param restLogMass [batch, seq] log of the probability mass outside the top k, or {@code null}
 * @param hiddenStates hidden states when requested, else empty
 * @param logitSamples further [batch, seq, vocab] logits of the same teacher under sampled
 *     variations (for example Knowledge Augmentation's M passes with sampled experts); empty for
 *     a deterministic teacher
 */
public record TeacherOutput(NDArray logits, NDArray topIds, NDArray topLogProbs, NDArray restLogMass,
                            List<NDArray> hiddenStates, List<NDArray> logitSamples) {

    /** An output without sampled variations. */
    public TeacherOutput(NDArray logits, NDArray topIds, NDArray topLogProbs, NDArray restLogMass,
                         List<NDArray> hiddenStates) {
        this(logits, topIds, topLogProbs, restLogMass, hiddenStates, List.of());
    }

    /** Never {@code null} lists. */
    public TeacherOutput {
        hiddenStates = hiddenStates == null ? List.of() : hiddenStates;
        logitSamples = logitSamples == null ? List.of() : List.copyOf(logitSamples);
    }

    /** True when full logits are available. */
    public boolean hasLogits() {
        return logits != null;
    }

    /** The same teacher output with {@code logits} as its logits (one of the samples), no samples. */
    public TeacherOutput withLogits(NDArray sample) {
        return new TeacherOutput(sample, null, null, null, hiddenStates, List.of());
    }
}
