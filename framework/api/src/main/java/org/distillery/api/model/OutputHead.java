package org.distillery.api.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.nn.core.Linear;

/**
 * A language model's output layer, so that logits can be computed from the final hidden states
 * outside the model: by a loss that takes them a chunk of positions at a time, so the full
 * {@code [batch, seq, vocab]} logits never exist (see {@link Logits}). The formula is the one the
 * model's own forward pass uses, through {@link #apply}:
 * <pre>
 *   z = h·Wᵀ + b                      (in the weight's data type, then float32)
 *   z = z · scale                     (when scale ≠ 1)
 *   z = cap · tanh(z / cap)           (when cap &gt; 0: final-logit soft-capping)
 * </pre>
 *
 * @param weight [vocab, hidden]; for tied embeddings the input embedding itself. A parameter (a
 *     leaf of autograd, as the model holds it), so that gradients reach it and a chunked loss can
 *     tell from {@link NDArray#hasGradient()} whether it is trained; a head computed from other
 *     arrays must be applied by the model instead
 * @param bias [vocab], or {@code null} for none; a parameter like the weight
 * @param scale multiplier of the logits, 1 for none (e.g. Cohere's {@code logit_scale}, or
 *     1 / Granite's {@code logits_scaling})
 * @param softCap the tanh soft-capping bound, 0 for none (e.g. Gemma 2's {@code final_logit_softcapping})
 */
public record OutputHead(NDArray weight, NDArray bias, double scale, double softCap) {

    /** Checks the shapes and constants. */
    public OutputHead {
        if (weight == null || weight.getShape().dimension() != 2) {
            throw new IllegalArgumentException("output head weight must be [vocab, hidden], got "
                    + (weight == null ? null : weight.getShape()));
        }
        if (bias != null && (bias.getShape().dimension() != 1 || bias.getShape().get(0) != weight.getShape().get(0))) {
            throw new IllegalArgumentException("output head bias must be [" + weight.getShape().get(0) + "], got "
                    + bias.getShape());
        }
        if (!Double.isFinite(scale) || scale == 0) {
            throw new IllegalArgumentException("output head scale must be finite and non-zero, got " + scale);
        }
        if (!(softCap >= 0) || Double.isInfinite(softCap)) {
            throw new IllegalArgumentException("output head soft cap must be 0 (none) or positive, got " + softCap);
        }
    }

    /** A plain linear head without bias, scaling or capping (GPT-2, Llama, Qwen2, Mistral, Mixtral). */
    public static OutputHead of(NDArray weight) {
        return new OutputHead(weight, null, 1.0, 0.0);
    }

    /** The number of logits per position. */
    public long vocab() {
        return weight.getShape().get(0);
    }

    /** The width of the hidden states the head reads. */
    public long hiddenSize() {
        return weight.getShape().get(1);
    }

    /**
     * The same head restricted to its first {@code size} logits (a teacher whose vocabulary extends
     * the student's, {@code tokenizer.vocab-policy = truncate-teacher}); views of the same arrays.
     */
    public OutputHead truncated(long size) {
        if (size <= 0 || size > vocab()) {
            throw new IllegalArgumentException("cannot truncate a head of " + vocab() + " logits to " + size);
        }
        if (size == vocab()) {
            return this;
        }
        String rows = ":" + size;
        return new OutputHead(weight.get(rows), bias == null ? null : bias.get(rows), scale, softCap);
    }

    /**
     * The logits of {@code hidden} [..., hidden] as float32 [..., vocab], created in {@code hidden}'s
     * manager: {@code finish(linear(hidden))}. Recorded by autograd when the inputs record gradients,
     * like any other operation.
     */
    public NDArray apply(NDArray hidden) {
        return finish(linear(hidden));
    }

    /**
     * The linear part {@code h·Wᵀ + b} [..., vocab], in {@code hidden}'s data type: a head held in
     * another type (float16 teacher weights computed in float32) is converted for this use only, the
     * copy owned by {@code hidden}'s manager.
     */
    public NDArray linear(NDArray hidden) {
        NDArray w = inTypeOf(weight, hidden);
        NDArray b = bias == null ? null : inTypeOf(bias, hidden);
        return (b == null ? Linear.linear(hidden, w) : Linear.linear(hidden, w, b)).singletonOrThrow();
    }

    private static NDArray inTypeOf(NDArray held, NDArray hidden) {
        if (held.getDataType() == hidden.getDataType()) {
            return held;
        }
        NDArray converted = held.toType(hidden.getDataType(), false);
        converted.attach(hidden.getManager());
        return converted;
    }

    /** The rest of the head on the output of {@link #linear}: float32, then the scale, then the soft cap. */
    public NDArray finish(NDArray linear) {
        NDArray z = linear;
        if (z.getDataType() != DataType.FLOAT32) {
            z = z.toType(DataType.FLOAT32, false);
        }
        if (scale != 1.0) {
            z = z.mul(constant(z, scale));
        }
        if (softCap > 0) {
            z = z.div(constant(z, softCap)).tanh().mul(constant(z, softCap));
        }
        return z;
    }

    /**
     * {@code value} as a float32 0-d array owned by the engine: never DJL's {@code op(Number)}, whose
     * scalar is freed while autograd still needs it (the kit's {@code Scalars} explains why).
     */
    private static NDArray constant(NDArray like, double value) {
        try (NDArray blob = like.getManager().create((float) value)) {
            return blob.duplicate();
        }
    }
}
