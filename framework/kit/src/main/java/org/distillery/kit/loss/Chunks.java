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
 *       of the head, and the chunk is differentiated at once down to its linear output, whose
 *       gradient G gives the hidden chunk's gradient {@code G·W} and the head's share
 *       {@code Gᵀ·h_chunk} (accumulated over groups of chunks, see below). The surrogate is
 *       {@code Σ h·G_h + Σ W·G_W} on the recorded hidden states and head. Neither the full logits
 *       nor their gradient ever exist: between chunks only G_h (the size of the hidden states), G_W
 *       (the size of the head) and one group buffer (about the size of the head) are kept. A chunk
 *       holds at most as many logits as the hidden states hold numbers, so its working memory does
 *       not grow with the vocabulary.</li>
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
        long batch = shape.get(0);
        long length = shape.get(1);
        int positionsPerChunk = fusedChunkSize(chunkSize, batch, length, shape.get(2), head.vocab());
        Runnable probe = PROBE.get();
        NDArray total = null;
        if (input.gradients() == null) {
            // no chunk gradients: each chunk through the head as recorded (one backward later, if any)
            for (long start = 0; start < length; start += positionsPerChunk) {
                try (NDManager chunk = target.newSubManager()) {
                    NDIndex positions = new NDIndex(":, {}:{}", start, Math.min(length, start + positionsPerChunk));
                    NDArray h = hidden.get(positions);
                    h.attach(chunk);
                    NDArray part = body.apply(chunk, positions, head.apply(h));
                    if (probe != null) {
                        probe.run();
                    }
                    part.attach(target);
                    total = total == null ? part : total.add(part);
                }
            }
            return finish(target, total, null);
        }
        // the head's arrays as constants: each chunk's linear output is a leaf whose gradient G gives
        // the hidden chunk's gradient G·W and the head's share Gᵀ·h, computed here, not by autograd
        OutputHead constant = new OutputHead(detached(head.weight(), target),
                head.bias() == null ? null : detached(head.bias(), target), head.scale(), head.softCap());
        HeadGradient headGradient = new HeadGradient(head, target, batch * positionsPerChunk);
        List<NDArray> hiddenGradients = new ArrayList<>();
        for (long start = 0; start < length; start += positionsPerChunk) {
            try (NDManager chunk = target.newSubManager()) {
                NDIndex positions = new NDIndex(":, {}:{}", start, Math.min(length, start + positionsPerChunk));
                NDArray recorded = hidden.get(positions);
                recorded.attach(chunk);
                NDArray h = recorded.stopGradient();
                h.attach(chunk);
                NDArray linear = constant.linear(h);
                linear.setRequiresGradient(true);
                NDArray part = body.apply(chunk, positions, constant.finish(linear));
                if (probe != null) {
                    probe.run();
                }
                input.gradients().backward(part);
                NDArray g = linear.getGradient();
                g.attach(chunk);
                NDArray hiddenGradient = g.matMul(constant.weight());
                hiddenGradient.attach(target);
                hiddenGradients.add(hiddenGradient);
                headGradient.add(g, h);
                NDArray value = part.stopGradient();
                value.attach(target);
                total = total == null ? value : total.add(value);
            }
            // outside the chunk, whose intermediates are freed by now
            headGradient.flushWhenFull();
        }
        NDArray g = hiddenGradients.size() == 1 ? hiddenGradients.get(0)
                : NDArrays.concat(new NDList(hiddenGradients), 1);
        return finish(target, total, plus(dot(hidden, g, target), headGradient.surrogate()));
    }

    /**
     * Positions per chunk on the fused path: at most {@code chunkSize}, and at most as many as keep a
     * chunk's logits no larger than twice the hidden states (rows: the largest power of two up to
     * 2·batch·seq·hidden / vocab; Liger-Kernel's rule without the factor 2), at least one. The factor
     * was measured with {@code distill bench loss} (B 8, T 512, hidden 512, V 32000, one thread): 1
     * gave 8-position chunks at 7.6% of the unfused peak but 1.16x its step time, 2 gives 16 positions
     * at 10.1% and 0.82x, 4 gave 32 positions at 15.4% and 0.72x (README, "Measured figures").
     */
    public static int fusedChunkSize(int chunkSize, long batch, long length, long hiddenSize, long vocab) {
        long rows = Long.highestOneBit(Math.max(1, 2 * batch * length * hiddenSize / vocab));
        long positions = Math.max(1, rows / Math.max(1, batch));
        return (int) Math.min(chunkSize, positions);
    }

    /**
     * The gradient of a fused head, accumulated over the chunks: its bias's as a running sum, its
     * weight's (Σ Gᵀ·h) in groups of chunks whose G and h are copied into one buffer each and
     * multiplied at once when the group is full. A group holds about as many rows as the head is wide,
     * so its buffer is about the size of the head, and the head-sized accumulation runs once per group
     * rather than once per chunk (on a CPU that memory traffic, not the multiplication, is what costs).
     */
    private static final class HeadGradient {
        private final OutputHead head;
        private final NDManager target;
        private final boolean weight;
        private final boolean bias;
        private final long groupRows;
        private NDArray gBuffer;
        private NDArray hBuffer;
        private long filled;
        private NDArray weightGradient;
        private NDArray biasGradient;

        HeadGradient(OutputHead head, NDManager target, long chunkRows) {
            this.head = head;
            this.target = target;
            this.weight = head.weight().hasGradient();
            this.bias = head.bias() != null && head.bias().hasGradient();
            this.groupRows = Math.max(1, head.hiddenSize() / chunkRows) * chunkRows;
        }

        /** Takes one chunk's linear-output gradient g [batch, chunk, vocab] and its hidden states h. */
        void add(NDArray g, NDArray h) {
            long rows = g.getShape().get(0) * g.getShape().get(1);
            NDArray g2 = g.reshape(rows, head.vocab());
            if (bias) {
                NDArray b = g2.sum(new int[] {0});
                if (biasGradient == null) {
                    b.attach(target);
                    biasGradient = b;
                } else {
                    biasGradient.addi(b);
                }
            }
            if (!weight) {
                return;
            }
            if (gBuffer == null) {
                gBuffer = target.create(new Shape(groupRows, head.vocab()), g.getDataType());
                hBuffer = target.create(new Shape(groupRows, head.hiddenSize()), h.getDataType());
            }
            NDIndex rowsOf = new NDIndex("{}:{}", filled, filled + rows);
            gBuffer.set(rowsOf, g2);
            hBuffer.set(rowsOf, h.reshape(rows, head.hiddenSize()));
            filled += rows;
        }

        /** Multiplies a full group into the weight's gradient. */
        void flushWhenFull() {
            if (filled >= groupRows) {
                flush();
            }
        }

        private void flush() {
            if (filled == 0) {
                return;
            }
            try (NDManager scratch = target.newSubManager()) {
                NDArray g = gBuffer.get(":{}", filled);
                NDArray h = hBuffer.get(":{}", filled);
                g.attach(scratch);
                h.attach(scratch);
                NDArray dw = g.transpose().matMul(h);
                if (weightGradient == null) {
                    dw.attach(target);
                    weightGradient = dw;
                } else {
                    weightGradient.addi(dw);
                }
            }
            filled = 0;
        }

        /** Σ W·G_W + Σ b·G_b on the recorded head (frees the buffers), or {@code null} when it is not trained. */
        NDArray surrogate() {
            flush();
            if (gBuffer != null) {
                gBuffer.close();
                hBuffer.close();
            }
            NDArray s = weightGradient == null ? null : dot(head.weight(), weightGradient, target);
            return biasGradient == null ? s : plus(s, dot(head.bias(), biasGradient, target));
        }
    }

    /** A copy of {@code array} that shares its memory and records no gradient, owned by {@code target}. */
    private static NDArray detached(NDArray array, NDManager target) {
        NDArray d = array.stopGradient();
        d.attach(target);
        return d;
    }

    /** Σ a·b over every element as a float32 scalar, without an element-wise product of their size. */
    /**
     * Σ a·b as a float32 scalar owned by {@code target}, with every intermediate (the flattened views
     * of a model's parameter included) owned by {@code target} too: an operation on a parameter
     * creates its result in the parameter's manager, which lives as long as the model, so each step
     * would otherwise leave a view of the head behind.
     */
    private static NDArray dot(NDArray a, NDArray b, NDManager target) {
        NDArray fa = a.reshape(-1);
        fa.attach(target);
        NDArray fb = b.reshape(-1);
        fb.attach(target);
        NDArray d = fa.dot(fb);
        d.attach(target);
        if (d.getDataType() != DataType.FLOAT32) {
            d = d.toType(DataType.FLOAT32, false);
            d.attach(target);
        }
        return d;
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

    /**
     * log q(target) [batch, positions] of a chunk of logits at the batch's {@code targets} of
     * {@code positions}: log-softmax over the vocabulary, then each target's entry. Targets are
     * clipped into the vocabulary first, so padding ids (-100, or past a truncated vocabulary) read a
     * real entry; the loss mask gives those positions weight 0.
     */
    public static NDArray targetLogProbs(NDArray chunkLogits, NDArray targets, NDIndex positions, NDManager chunk) {
        long vocab = chunkLogits.getShape().get(chunkLogits.getShape().dimension() - 1);
        NDArray ids = sliceIds(targets, positions, chunk).clip(0, vocab - 1).expandDims(-1);
        return chunkLogits.logSoftmax(-1).gather(ids, -1).squeeze(-1);
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
