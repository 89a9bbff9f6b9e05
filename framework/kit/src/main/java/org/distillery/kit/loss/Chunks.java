package org.distillery.kit.loss;

import java.util.concurrent.Callable;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.loss.LossInput;

/**
 * Sums a per-position loss over a sequence in chunks of positions, each computed in its own
 * sub-manager, so that a loss over {@code [batch, seq, vocab]} logits never holds every position's
 * probabilities at once.
 *
 * <p>Why: a chunk's intermediates ({@code [batch, chunk, vocab]} log-probabilities, probabilities,
 * masks) are freed when its sub-manager closes, before the next chunk starts.
 *
 * <p>Under autograd that alone is not enough: PyTorch keeps whatever each chunk's backward needs
 * until the step's backward pass, so every chunk's probabilities would be alive at once. When the
 * input carries the step's gradient collector ({@link LossInput#gradients()}) and the student
 * logits record gradients, each chunk is therefore computed on a <em>detached</em> copy of its
 * logits and differentiated right away (its graph does not reach the model, so this backward only
 * fills the copy's gradient G). The chunk then contributes the surrogate {@code Σ z·G} on the
 * recorded logits z, whose gradient is exactly G and which keeps only G for the step's backward.
 * The returned value is {@code value + (surrogate − stop(surrogate))}: the true loss in the forward
 * direction, G in the backward one. What stays alive between chunks is one gradient-sized array
 * per chunk (together the size of the logits' own gradient), never a chunk's probabilities.
 *
 * <p>The rule that makes this correct: the body's only differentiated input is the {@code logits}
 * argument it receives; everything else it reads (targets, masks, teacher outputs, sampler extras)
 * must be constants of the step.
 *
 * <pre>
 * NDArray sum = Chunks.sum(input.studentLogits(), chunkSize, input, (chunk, positions, logits) -&gt; {
 *     NDArray logQ = logits.logSoftmax(-1);
 *     NDArray ids = Chunks.sliceIds(input.batch().targets(), positions, chunk).expandDims(-1);
 *     return logQ.gather(ids, -1).neg().squeeze(-1).mul(Chunks.slice(mask, positions, chunk)).sum();
 * });
 * return new LossValue(sum, Chunks.count(mask));
 * </pre>
 */
public final class Chunks {

    private static final ThreadLocal<Runnable> PROBE = new ThreadLocal<>();

    /** Computes one chunk's scalar contribution; arrays it creates must live in {@code chunk}. */
    @FunctionalInterface
    public interface Body {
        /**
         * Returns a scalar for the positions selected by {@code positions} ({@code ":, start:end"}).
         *
         * @param chunk the chunk's manager, closed when the chunk ends
         * @param positions the chunk's positions, to slice other per-position arrays with
         * @param logits the student logits at these positions as float32 (a detached copy that
         *     records its own gradient when chunk gradients are on)
         */
        NDArray apply(NDManager chunk, NDIndex positions, NDArray logits);
    }

    private Chunks() {
    }

    /**
     * Sums {@code body} over consecutive chunks of {@code chunkSize} positions.
     *
     * @param logits the student logits [batch, seq, vocab], the only differentiated input
     * @param chunkSize positions per chunk
     * @param input the loss input: its manager receives each chunk's scalar and the sum; its
     *     gradient collector, when present and the logits record gradients, turns on chunk gradients
     * @param body the per-chunk computation
     * @return a float32 scalar in the input's manager
     */
    public static NDArray sum(NDArray logits, int chunkSize, LossInput input, Body body) {
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunk size must be at least 1, got " + chunkSize);
        }
        NDManager target = input.manager();
        long length = logits.getShape().get(1);
        boolean chunkGradients = input.gradients() != null && logits.hasGradient();
        Runnable probe = PROBE.get();
        NDArray total = null;
        NDArray surrogate = null;
        for (long start = 0; start < length; start += chunkSize) {
            long end = Math.min(length, start + chunkSize);
            try (NDManager chunk = target.newSubManager()) {
                NDIndex positions = new NDIndex(":, {}:{}", start, end);
                NDArray recorded = slice(logits, positions, chunk);
                if (!chunkGradients) {
                    NDArray part = body.apply(chunk, positions, recorded);
                    if (probe != null) {
                        probe.run();
                    }
                    part.attach(target);
                    total = total == null ? part : total.add(part);
                    continue;
                }
                NDArray detached = recorded.stopGradient();
                detached.setRequiresGradient(true);
                NDArray part = body.apply(chunk, positions, detached);
                if (probe != null) {
                    probe.run();
                }
                input.gradients().backward(part);
                NDArray value = part.stopGradient();
                NDArray grad = detached.getGradient();
                grad.attach(chunk);
                NDArray infinite = recorded.isInfinite();
                // ±inf logits (masked vocabulary) have gradient 0; keep inf·0 out of the surrogate
                NDArray finite = infinite.any().getBoolean()
                        ? NDArrays.where(infinite, recorded.zerosLike(), recorded) : recorded;
                NDArray term = finite.mul(grad).sum();
                value.attach(target);
                term.attach(target);
                total = total == null ? value : total.add(value);
                surrogate = surrogate == null ? term : surrogate.add(term);
            }
        }
        if (total == null) {
            return target.zeros(new Shape(), DataType.FLOAT32);
        }
        return surrogate == null ? total : total.add(surrogate.sub(surrogate.stopGradient()));
    }

    /**
     * Runs {@code action} with {@code probe} called after every chunk of every {@link #sum} on this
     * thread, while the chunk's intermediates are still alive: how a memory benchmark reads a
     * chunked loss's high-water mark without reaching into the loss.
     */
    public static <T> T probed(Runnable probe, Callable<T> action) throws Exception {
        Runnable previous = PROBE.get();
        PROBE.set(probe);
        try {
            return action.call();
        } finally {
            if (previous == null) {
                PROBE.remove();
            } else {
                PROBE.set(previous);
            }
        }
    }

    /** A view of {@code array} at {@code positions}, owned by {@code chunk}, as float32. */
    public static NDArray slice(NDArray array, NDIndex positions, NDManager chunk) {
        NDArray view = array.get(positions);
        view.attach(chunk);
        return view.getDataType() == DataType.FLOAT32 ? view : view.toType(DataType.FLOAT32, false);
    }

    /** A view of an integer {@code array} at {@code positions}, owned by {@code chunk}, as int64. */
    public static NDArray sliceIds(NDArray array, NDIndex positions, NDManager chunk) {
        NDArray view = array.get(positions);
        view.attach(chunk);
        return view.getDataType() == DataType.INT64 ? view : view.toType(DataType.INT64, false);
    }

    /** The number of counted tokens: the sum of a loss mask, rounded. */
    public static long count(NDArray lossMask) {
        try (NDArray s = lossMask.toType(DataType.FLOAT32, false).sum()) {
            return Math.round(s.getFloat());
        }
    }
}
