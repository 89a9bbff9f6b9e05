package org.distillery.kit.loss;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.loss.LossInput;
import org.distillery.api.model.Logits;
import org.distillery.api.model.OutputHead;

/**
 * Sums a per-position loss over a sequence in chunks of positions, each computed in its own
 * sub-manager, so that a loss over {@code [batch, seq, vocab]} logits never holds every position's
 * probabilities at once. It reads the student's logits through {@link LossInput#logits()}, which
 * are either materialised or <em>fused</em> (the final hidden states and the output head): a loss
 * written once against {@link #sum(Logits, int, LossInput, Body)} runs on both paths.
 *
 * <p>Why: a chunk's intermediates ({@code [batch, chunk, vocab]} log-probabilities, probabilities,
 * masks) are freed when its sub-manager closes, before the next chunk starts.
 *
 * <p>Under autograd that alone is not enough: PyTorch keeps whatever each chunk's backward needs
 * until the step's backward pass, so every chunk's probabilities would be alive at once. When the
 * input carries the step's gradient collector ({@link LossInput#gradients()}: training), each chunk
 * is therefore differentiated right away on <em>detached</em> inputs, and contributes a surrogate
 * whose gradient is that chunk's gradient (when the logits do not depend on anything that records
 * gradients the surrogate is a constant and nothing changes but the work):
 * <ul>
 *   <li><b>Materialised logits</b> z: the body runs on a detached copy of the chunk's logits; its
 *       gradient G enters through the surrogate {@code Σ z·G} on the recorded logits. What stays
 *       alive between chunks is one gradient-sized array per chunk (together the size of the
 *       logits' own gradient), never a chunk's probabilities.</li>
 *   <li><b>Fused logits</b> (hidden states h, head W, as Liger-Kernel's fused linear losses do): each
 *       chunk's logits are computed as {@code h_chunk·Wᵀ} from a detached copy of the hidden chunk and
 *       of the head, and differentiated at once, which gives the gradient w.r.t. the hidden chunk
 *       G_h and adds the chunk's share into the head's gradient G_W. The surrogate is
 *       {@code Σ h·G_h + Σ W·G_W} on the recorded hidden states and head. Neither the full logits
 *       nor their gradient ever exist: between chunks only G_h (the size of the hidden states) and
 *       G_W (the size of the head) are kept. A chunk here also holds at most about as many logits as
 *       the hidden states hold numbers (the next power of two of batch·seq·hidden / vocab rows), so
 *       its working memory does not grow with the vocabulary.</li>
 * </ul>
 * The returned value is {@code value + (surrogate − stop(surrogate))}: the true loss in the forward
 * direction, the gradient in the backward one.
 *
 * <p>The rule that makes this correct: the body's only differentiated input is the {@code logits}
 * argument it receives; everything else it reads (targets, masks, teacher outputs, sampler extras)
 * must be constants of the step. A teacher's logits, fused or not, are read with
 * {@link #slice(Logits, NDIndex, NDManager)}.
 *
 * <p>A loss that needs every logit at once reads {@link LossInput#studentLogits()}, which
 * materialises fused logits (the memory of the unfused path); its values and gradients are the same.
 *
 * <pre>
 * NDArray sum = Chunks.sum(input.logits(), chunkSize, input, (chunk, positions, logits) -&gt; {
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
         * @param logits the student logits at these positions as float32 (computed from detached
         *     inputs that record their own gradient when chunk gradients are on)
         */
        NDArray apply(NDManager chunk, NDIndex positions, NDArray logits);
    }

    private Chunks() {
    }

    /**
     * Sums {@code body} over consecutive chunks of at most {@code chunkSize} positions of the
     * student's logits, materialised or fused.
     *
     * @param logits the student logits ({@link LossInput#logits()}), the only differentiated input
     * @param chunkSize most positions per chunk (fused logits may take fewer, see the class comment)
     * @param input the loss input: its manager receives each chunk's scalar and the sum; its
     *     gradient collector, when present, turns on chunk gradients
     * @param body the per-chunk computation
     * @return a float32 scalar in the input's manager
     */
    public static NDArray sum(Logits logits, int chunkSize, LossInput input, Body body) {
        checkChunkSize(chunkSize);
        if (!logits.isFused() || logits.isMaterialised()) {
            return sum(logits.full(), chunkSize, input, body);
        }
        return fusedSum(logits.hidden(), logits.head(), chunkSize, input, body);
    }

    /**
     * Sums {@code body} over consecutive chunks of {@code chunkSize} positions of materialised logits.
     *
     * @param logits the student logits [batch, seq, vocab], the only differentiated input
     * @param chunkSize positions per chunk
     * @param input the loss input: its manager receives each chunk's scalar and the sum; its
     *     gradient collector, when present, turns on chunk gradients
     * @param body the per-chunk computation
     * @return a float32 scalar in the input's manager
     */
    public static NDArray sum(NDArray logits, int chunkSize, LossInput input, Body body) {
        checkChunkSize(chunkSize);
        NDManager target = input.manager();
        long length = logits.getShape().get(1);
        boolean chunkGradients = input.gradients() != null;
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
        return finish(target, total, surrogate);
    }

    /** The fused path: each chunk's logits are {@code head(hidden chunk)}, differentiated at once. */
    private static NDArray fusedSum(NDArray hidden, OutputHead head, int chunkSize, LossInput input, Body body) {
        NDManager target = input.manager();
        Shape shape = hidden.getShape();
        long length = shape.get(1);
        int positionsPerChunk = fusedChunkSize(chunkSize, shape.get(0), length, shape.get(2), head.vocab());
        boolean chunkGradients = input.gradients() != null;
        Runnable probe = PROBE.get();
        // leaves of the chunk graphs: the head's gradient accumulates in them over the chunks
        OutputHead leaves = chunkGradients ? detachedLeaves(head, target) : head;
        NDArray total = null;
        List<NDArray> hiddenGradients = new ArrayList<>();
        for (long start = 0; start < length; start += positionsPerChunk) {
            long end = Math.min(length, start + positionsPerChunk);
            try (NDManager chunk = target.newSubManager()) {
                NDIndex positions = new NDIndex(":, {}:{}", start, end);
                NDArray recorded = hidden.get(positions);
                recorded.attach(chunk);
                NDArray h = recorded;
                if (chunkGradients) {
                    h = recorded.stopGradient();
                    h.attach(chunk);
                    h.setRequiresGradient(true);
                }
                NDArray part = body.apply(chunk, positions, leaves.apply(h));
                if (probe != null) {
                    probe.run();
                }
                if (chunkGradients) {
                    input.gradients().backward(part);
                    part = part.stopGradient();
                    NDArray grad = h.getGradient();
                    grad.attach(target);
                    hiddenGradients.add(grad);
                }
                part.attach(target);
                total = total == null ? part : total.add(part);
            }
        }
        if (!chunkGradients) {
            return finish(target, total, null);
        }
        NDArray g = hiddenGradients.size() == 1 ? hiddenGradients.get(0)
                : NDArrays.concat(new NDList(hiddenGradients), 1);
        NDArray surrogate = dot(hidden, g);
        surrogate = plus(surrogate, leafSurrogate(head.weight(), leaves.weight()));
        surrogate = plus(surrogate, leafSurrogate(head.bias(), leaves.bias()));
        return finish(target, total, surrogate);
    }

    /**
     * Positions per chunk on the fused path: at most {@code chunkSize}, and at most as many as keep a
     * chunk's logits about the size of the hidden states (Liger-Kernel's rule: the next power of two
     * of batch·seq·hidden / vocab rows), at least one.
     */
    static int fusedChunkSize(int chunkSize, long batch, long length, long hiddenSize, long vocab) {
        long rows = Math.max(1, (batch * length * hiddenSize + vocab - 1) / vocab);
        long pow2 = Long.highestOneBit(rows);
        if (pow2 < rows) {
            pow2 <<= 1;
        }
        long positions = Math.max(1, pow2 / Math.max(1, batch));
        return (int) Math.min(chunkSize, positions);
    }

    /**
     * Detached copies of the head's arrays that record their own gradient where the originals do
     * (they are parameters, i.e. leaves, for which {@link NDArray#hasGradient()} says so).
     */
    private static OutputHead detachedLeaves(OutputHead head, NDManager target) {
        return new OutputHead(leaf(head.weight(), target), head.bias() == null ? null : leaf(head.bias(), target),
                head.scale(), head.softCap());
    }

    private static NDArray leaf(NDArray array, NDManager target) {
        NDArray detached = array.stopGradient();
        detached.attach(target);
        detached.setRequiresGradient(array.hasGradient());
        return detached;
    }

    /** Σ array·G, where G is the gradient the chunks accumulated in {@code leaf}; {@code null} when none. */
    private static NDArray leafSurrogate(NDArray array, NDArray leaf) {
        if (array == null || !array.hasGradient()) {
            return null;
        }
        NDArray grad = leaf.getGradient();
        grad.attach(leaf.getManager());
        return dot(array, grad);
    }

    /** Σ a·b over every element as a float32 scalar, without an element-wise product of their size. */
    private static NDArray dot(NDArray a, NDArray b) {
        NDArray d = a.reshape(-1).dot(b.reshape(-1));
        return d.getDataType() == DataType.FLOAT32 ? d : d.toType(DataType.FLOAT32, false);
    }

    private static NDArray plus(NDArray sum, NDArray term) {
        return sum == null ? term : term == null ? sum : sum.add(term);
    }

    private static NDArray finish(NDManager target, NDArray total, NDArray surrogate) {
        if (total == null) {
            return target.zeros(new Shape(), DataType.FLOAT32);
        }
        return surrogate == null ? total : total.add(surrogate.sub(surrogate.stopGradient()));
    }

    private static void checkChunkSize(int chunkSize) {
        if (chunkSize < 1) {
            throw new IllegalArgumentException("chunk size must be at least 1, got " + chunkSize);
        }
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

    /**
     * The logits of {@code logits} at {@code positions} as float32, owned by {@code chunk}: a slice of
     * materialised logits, or the output head applied to the hidden states of those positions.
     * For a teacher's logits ({@link org.distillery.api.teacher.TeacherOutput#logitsView()}), which are
     * constants of the step.
     */
    public static NDArray slice(Logits logits, NDIndex positions, NDManager chunk) {
        if (!logits.isFused() || logits.isMaterialised()) {
            return slice(logits.full(), positions, chunk);
        }
        NDArray h = logits.hidden().get(positions);
        h.attach(chunk);
        return logits.head().apply(h);
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
