package org.distillery.api.teacher;

import ai.djl.ndarray.NDArray;
import java.util.List;

import org.distillery.api.model.Logits;

/**
 * The teacher's view of a batch: full logits, or the top-k log-probabilities with the mass
 * left over (from a cache or a black-box endpoint).
 *
 * <p>A teacher that runs a model in-process may leave its logits <em>fused</em> ({@code fused}: its
 * final hidden states and output head, see {@link Logits}); a loss reading them through the kit's
 * {@code Chunks} then computes only the chunk it needs, and {@link #logits()} materialises them
 * (once) for anyone who needs them all.
 *
 * @param logits [batch, seq, vocab] when materialised; {@code null} with top-k only, and read through
 *     {@link #logits()} (which materialises) when the output is fused
 * @param topIds [batch, seq, k] int64 token ids, or {@code null} with full logits
 * @param topLogProbs [batch, seq, k] log-probabilities of {@code topIds}, or {@code null}
 * @param restLogMass [batch, seq] log of the probability mass outside the top k, or {@code null}
 * @param hiddenStates hidden states when requested, else empty
 * @param logitSamples further [batch, seq, vocab] logits of the same teacher under sampled
 *     variations (for example Knowledge Augmentation's M passes with sampled experts); empty for
 *     a deterministic teacher
 * @param fused the logits as final hidden states and output head, or {@code null}; never together
 *     with materialised {@code logits}
 */
public record TeacherOutput(NDArray logits, NDArray topIds, NDArray topLogProbs, NDArray restLogMass,
                            List<NDArray> hiddenStates, List<NDArray> logitSamples, Logits fused) {

    /** An output without sampled variations. */
    public TeacherOutput(NDArray logits, NDArray topIds, NDArray topLogProbs, NDArray restLogMass,
                         List<NDArray> hiddenStates) {
        this(logits, topIds, topLogProbs, restLogMass, hiddenStates, List.of(), null);
    }

    /** An output with materialised logits or top-k, and sampled variations. */
    public TeacherOutput(NDArray logits, NDArray topIds, NDArray topLogProbs, NDArray restLogMass,
                         List<NDArray> hiddenStates, List<NDArray> logitSamples) {
        this(logits, topIds, topLogProbs, restLogMass, hiddenStates, logitSamples, null);
    }

    /** An output whose logits are left fused (a local teacher's final hidden states and head). */
    public TeacherOutput(Logits fused, List<NDArray> hiddenStates) {
        this(null, null, null, null, hiddenStates, List.of(), fused);
    }

    /** Never {@code null} lists; never both materialised and fused logits. */
    public TeacherOutput {
        hiddenStates = hiddenStates == null ? List.of() : hiddenStates;
        logitSamples = logitSamples == null ? List.of() : List.copyOf(logitSamples);
        if (logits != null && fused != null) {
            throw new IllegalArgumentException("a teacher output has materialised or fused logits, not both");
        }
    }

    /** The full logits [batch, seq, vocab], materialised at the first call when fused; {@code null} with top-k only. */
    @Override
    public NDArray logits() {
        if (logits != null) {
            return logits;
        }
        return fused == null ? null : fused.full();
    }

    /** The logits as a view a loss reads chunk by chunk (fused or materialised), or {@code null} with top-k only. */
    public Logits logitsView() {
        if (fused != null) {
            return fused;
        }
        return logits == null ? null : Logits.of(logits);
    }

    /** True when full logits are available (materialised or fused). */
    public boolean hasLogits() {
        return logits != null || fused != null;
    }

    /** The same teacher output with {@code logits} as its logits (one of the samples), no samples. */
    public TeacherOutput withLogits(NDArray sample) {
        return new TeacherOutput(sample, null, null, null, hiddenStates, List.of(), null);
    }
}
