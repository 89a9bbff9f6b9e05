package org.distillery.api.model;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.Shape;

/**
 * A model's logits {@code [batch, seq, vocab]} as a loss reads them: either materialised, or
 * <em>fused</em>, i.e. the final hidden states {@code [batch, seq, hidden]} and the
 * {@link OutputHead} that turns them into logits. A loss reads them a chunk of positions at a time
 * through the kit's {@code Chunks}, which slices materialised logits and, for fused ones, computes
 * {@code hidden_chunk · Wᵀ} per chunk (with its gradient w.r.t. the hidden chunk and the head), so
 * that neither the full logits nor their gradient ever exist.
 *
 * <p>{@link #full()} is the fallback for a loss that needs every logit at once: on fused logits it
 * applies the head to all positions once (through the autograd graph, so gradients still reach the
 * hidden states and the head) and keeps the result for the rest of the step, which costs exactly the
 * memory of the unfused path.
 */
public final class Logits {

    private final NDArray hidden;
    private final OutputHead head;
    private NDArray full;

    private Logits(NDArray full, NDArray hidden, OutputHead head) {
        this.full = full;
        this.hidden = hidden;
        this.head = head;
    }

    /** Materialised logits [batch, seq, vocab]. */
    public static Logits of(NDArray logits) {
        if (logits == null || logits.getShape().dimension() != 3) {
            throw new IllegalArgumentException("logits must be [batch, seq, vocab], got "
                    + (logits == null ? null : logits.getShape()));
        }
        return new Logits(logits, null, null);
    }

    /**
     * Fused logits: {@code head} applied to {@code hidden} [batch, seq, hidden], computed when read.
     *
     * @param hidden the final hidden states (after the final norm), as the model computed them (they
     *     record gradients in training)
     * @param head the output layer they go through
     */
    public static Logits fused(NDArray hidden, OutputHead head) {
        if (hidden == null || hidden.getShape().dimension() != 3) {
            throw new IllegalArgumentException("final hidden states must be [batch, seq, hidden], got "
                    + (hidden == null ? null : hidden.getShape()));
        }
        if (hidden.getShape().get(2) != head.hiddenSize()) {
            throw new IllegalArgumentException("final hidden states " + hidden.getShape() + " do not match an output "
                    + "head of width " + head.hiddenSize());
        }
        return new Logits(null, hidden, head);
    }

    /** True when these logits are a head over hidden states (whether or not {@link #full()} was called since). */
    public boolean isFused() {
        return hidden != null;
    }

    /** True when every logit exists as one array: never fused, or fused and {@link #full()} was called. */
    public boolean isMaterialised() {
        return full != null;
    }

    /** The final hidden states of fused logits, else {@code null}. */
    public NDArray hidden() {
        return hidden;
    }

    /** The output head of fused logits, else {@code null}. */
    public OutputHead head() {
        return head;
    }

    /** [batch, seq, vocab]. */
    public Shape shape() {
        if (full != null) {
            return full.getShape();
        }
        Shape h = hidden.getShape();
        return new Shape(h.get(0), h.get(1), head.vocab());
    }

    /** Rows of the batch. */
    public long batch() {
        return shape().get(0);
    }

    /** Positions per row. */
    public long length() {
        return shape().get(1);
    }

    /** Logits per position. */
    public long vocab() {
        return shape().get(2);
    }

    /**
     * Every logit as one array [batch, seq, vocab]; fused logits are materialised (float32) at the
     * first call, in the hidden states' manager, and kept.
     */
    public NDArray full() {
        if (full == null) {
            try (NDScope scope = new NDScope()) {
                scope.suppressNotUsedWarning();
                NDArray z = head.apply(hidden);
                NDScope.unregister(z);
                z.attach(hidden.getManager());
                full = z;
            }
        }
        return full;
    }

    /**
     * The first {@code size} logits of every position (a teacher whose vocabulary extends the
     * student's): fused logits stay fused over a truncated head; materialised ones are sliced.
     */
    public Logits truncated(long size) {
        if (size == vocab()) {
            return this;
        }
        if (full == null) {
            OutputHead cut = head.truncated(size);
            // the views are created in the head's manager (the model's); they belong to these logits' step
            if (cut != head) {
                cut.weight().attach(hidden.getManager());
                if (cut.bias() != null) {
                    cut.bias().attach(hidden.getManager());
                }
            }
            return fused(hidden, cut);
        }
        if (size <= 0 || size > vocab()) {
            throw new IllegalArgumentException("cannot truncate logits of " + vocab() + " entries to " + size);
        }
        return of(full.get(":, :, :" + size));
    }
}
