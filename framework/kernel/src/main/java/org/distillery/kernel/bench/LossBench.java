package org.distillery.kernel.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.Contribution;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.api.model.OutputHead;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.loss.Chunks;

/**
 * {@code distill bench loss}: memory and time of the registry's {@code kd.forward-kl} at batch 8,
 * sequence 512, vocabulary 32000 (fp32). The loss is the one the kernel's registry provides
 * (kd-core's), built through its factory, and measured through the kit's chunk probe
 * ({@link Chunks#probed}), so the benchmark measures exactly what a run uses without reaching into
 * the bundle.
 *
 * <p><b>Forward only</b> (no gradients, as in evaluation): the loss over materialised logits,
 * unchunked (one chunk of all positions) against chunked ({@code chunk-size} 64).
 *
 * <p><b>Training</b>, the part of a step the fused output layer changes: from the student's final
 * hidden states (recording gradients) and head, and the teacher's final hidden states and head, to
 * the loss and back to the gradients w.r.t. the hidden states and the head weight.
 * <ul>
 *   <li><b>Unfused</b> ({@code train.fused-output = false}): both models' logits are materialised
 *       ({@code h·Wᵀ}), the loss runs chunked with per-chunk gradients, the backward pass goes
 *       through the student's logits and head.</li>
 *   <li><b>Fused</b> ({@code train.fused-output = true}): the loss reads both models' logits as
 *       hidden states and heads and computes {@code h_chunk·Wᵀ} and its gradient chunk by chunk.</li>
 * </ul>
 * Both start from the same inputs and end with the same gradients of the hidden states and the head
 * (printed: the loss per token of each, and the largest gradient difference).
 *
 * <p>How memory is measured: the native heap in use ({@link MallocMemory}, glibc {@code mallinfo2})
 * is read before the step, after every chunk while that chunk's intermediates are alive, before and
 * after the backward pass, and by a sampling thread every 0.2 ms throughout (which sees the backward
 * pass from inside). The figure is the peak above the memory in use before the step: for training it
 * includes the logits, their gradient, the head's gradient and everything else the step allocates.
 * Time is measured in separate runs without the sampler: wall time of the whole step, unfused and
 * fused alternating, median of {@code repeats} each after one warm-up of each.
 */
public final class LossBench {

    private static final int PROMPT = 64;
    private static final double MB = 1024.0 * 1024.0;
    private static final long SAMPLE_NANOS = 200_000;

    /**
     * The shape of the benchmark.
     *
     * @param batch rows
     * @param seq positions per row
     * @param vocab vocabulary of both models
     * @param hidden the student's width
     * @param teacherHidden the teacher's width
     * @param chunkSize the loss's {@code chunk-size}
     * @param repeats timed steps of each path
     */
    public record Options(int batch, int seq, int vocab, int hidden, int teacherHidden, int chunkSize, int repeats) {

        /** Batch 8, sequence 512, vocabulary 32000, widths 512, chunk-size 64, 3 timed steps each. */
        public static Options defaults() {
            return new Options(8, 512, 32000, 512, 512, 64, 3);
        }

        /** Fails naming the first value out of range. */
        public void check() {
            if (batch < 1 || seq < 2 || vocab < 2 || hidden < 1 || teacherHidden < 1 || chunkSize < 1 || repeats < 1) {
                throw new IllegalArgumentException("batch, hidden sizes, chunk size and repeats must be at least 1, "
                        + "seq and vocab at least 2 (got " + this + ")");
            }
        }
    }

    private final LossFactory factory;
    private final Config defaults;
    private final Options options;

    private LossBench(LossFactory factory, Config defaults, Options options) {
        this.factory = factory;
        this.defaults = defaults;
        this.options = options;
    }

    /**
     * Runs the benchmark on {@code loss} (kd.forward-kl's factory and defaults from the registry) in a
     * sub-manager of {@code parent} and prints the report to {@code out}.
     */
    public static void run(PrintStream out, NDManager parent, Contribution<LossFactory> loss, Options options)
            throws Exception {
        options.check();
        new LossBench(loss.factory(), loss.defaults(), options).run(out, parent);
    }

    private void run(PrintStream out, NDManager parent) throws Exception {
        Optional<MallocMemory> probe = MallocMemory.open();
        if (probe.isEmpty()) {
            out.println("distill bench loss: native memory is read with glibc mallinfo2 (64-bit glibc 2.33+), "
                    + "not available here");
            return;
        }
        MallocMemory memory = probe.get();
        Options o = options;
        out.printf(Locale.ROOT, "distill bench loss: kd.forward-kl, batch %d, seq %d, vocab %d, fp32, %s%n",
                o.batch(), o.seq(), o.vocab(), parent.getDevice());
        try (NDManager bench = parent.newSubManager()) {
            warmUp(bench, memory);
            forwardOnly(out, bench, memory);
            training(out, bench, memory);
        }
    }

    // ------------------------------------------------------------------ forward only

    private void forwardOnly(PrintStream out, NDManager bench, MallocMemory memory) throws Exception {
        Options o = options;
        try (NDManager own = bench.newSubManager()) {
            Shape shape = new Shape(o.batch(), o.seq(), o.vocab());
            long before = memory.inUse();
            NDArray student = own.randomNormal(0f, 2f, shape, DataType.FLOAT32);
            NDArray teacher = own.randomNormal(0f, 2f, shape, DataType.FLOAT32);
            long inputs = memory.inUse() - before;
            out.printf(Locale.ROOT, "  forward only, over materialised logits (student + teacher logits: %.1f MB):%n",
                    inputs / MB);
            Measurement unchunked = measureForward(own, memory, student, teacher, o.seq());
            Measurement chunked = measureForward(own, memory, student, teacher, o.chunkSize());
            for (Measurement m : List.of(unchunked, chunked)) {
                out.printf(Locale.ROOT, "    chunk-size %4d: peak native above inputs %8.1f MB, loss/token %.6f%n",
                        m.chunk, m.peakBytes / MB, m.lossPerToken);
            }
            out.printf(Locale.ROOT, "    chunked / unchunked peak: %.1f%%%n",
                    100.0 * chunked.peakBytes / unchunked.peakBytes);
        }
    }

    private Measurement measureForward(NDManager bench, MallocMemory memory, NDArray student, NDArray teacher,
                                       int chunkSize) throws Exception {
        Loss loss = loss(bench, chunkSize);
        AtomicLong peak = new AtomicLong();
        long before = memory.inUse();
        double perToken;
        try (NDManager step = bench.newSubManager()) {
            LossInput in = new LossInput(batch(step), student, List.of(),
                    new TeacherOutput(teacher, null, null, null, List.of()), List.of(), step);
            LossValue value = Chunks.probed(() -> peak.accumulateAndGet(memory.inUse(), Math::max),
                    () -> loss.compute(in));
            perToken = value.sum().getFloat() / value.count();
            peak.accumulateAndGet(memory.inUse(), Math::max);
        }
        return new Measurement(chunkSize, peak.get() - before, 0, perToken, 0, null);
    }

    // ------------------------------------------------------------------ training

    private void training(PrintStream out, NDManager bench, MallocMemory memory) throws Exception {
        Options o = options;
        try (NDManager own = bench.newSubManager()) {
            long before = memory.inUse();
            Inputs inputs = Inputs.random(own, o);
            long inputBytes = memory.inUse() - before;
            int fusedChunk = Chunks.fusedChunkSize(o.chunkSize(), o.batch(), o.seq(), o.hidden(), o.vocab());
            out.printf(Locale.ROOT, "  training: final hidden states (student %d wide, teacher %d wide) and heads -> "
                    + "logits -> loss -> gradients of the student's hidden states and head%n", o.hidden(),
                    o.teacherHidden());
            out.printf(Locale.ROOT, "    inputs (both models' hidden states and heads): %.1f MB; the logits of one "
                    + "model are %.1f MB%n", inputBytes / MB, (double) o.batch() * o.seq() * o.vocab() * 4 / MB);
            // one untimed run of each, so that both paths meet warm caches and allocator state
            step(own, memory, inputs, false, false);
            step(own, memory, inputs, true, false);
            Measurement unfused = step(own, memory, inputs, false, true);
            Measurement fused = step(own, memory, inputs, true, true);
            List<Double> unfusedTimes = new ArrayList<>();
            List<Double> fusedTimes = new ArrayList<>();
            List<Double> paired = new ArrayList<>();
            for (int i = 0; i < o.repeats(); i++) {
                double u = step(own, memory, inputs, false, false).seconds;
                double f = step(own, memory, inputs, true, false).seconds;
                unfusedTimes.add(u);
                fusedTimes.add(f);
                paired.add(f / u);
            }
            report(out, "unfused", unfused, o.chunkSize(), unfusedTimes);
            report(out, "fused", fused, fusedChunk, fusedTimes);
            double gradientDifference = largestDifference(unfused.gradients, fused.gradients);
            out.printf(Locale.ROOT, "    same result: loss/token %.6f vs %.6f, largest gradient difference %.2e of the "
                    + "largest gradient%n", unfused.lossPerToken, fused.lossPerToken, gradientDifference);
            double memoryRatio = (double) fused.peakBytes / unfused.peakBytes;
            out.printf(Locale.ROOT, "    fused / unfused peak native memory: %.1f%% (goal <= 15%%): %s%n",
                    100 * memoryRatio, memoryRatio <= 0.15 ? "met" : "NOT met");
            double timeRatio = median(fusedTimes) / median(unfusedTimes);
            out.printf(Locale.ROOT, "    fused / unfused step time: %.3fx (medians of %d; median of paired ratios "
                    + "%.3fx) (goal <= 1.1x): %s%n", timeRatio, o.repeats(), median(paired),
                    timeRatio <= 1.1 ? "met" : "NOT met");
        }
    }

    private static void report(PrintStream out, String name, Measurement m, int chunk, List<Double> times) {
        out.printf(Locale.ROOT, "    %-7s (chunks of %3d positions): peak native above inputs %8.1f MB, after the "
                + "step %6.1f MB, step median %.3f s (min %.3f, max %.3f)%n", name, chunk, m.peakBytes / MB,
                m.leftBytes / MB, median(times), Collections.min(times), Collections.max(times));
    }

    /** The benchmark's inputs: both models' final hidden states and heads. */
    private record Inputs(NDArray hidden, NDArray weight, NDArray teacherHidden, NDArray teacherWeight) {
        static Inputs random(NDManager m, Options o) {
            NDArray h = m.randomNormal(new Shape(o.batch(), o.seq(), o.hidden()));
            NDArray w = m.randomNormal(0f, (float) (1.5 / Math.sqrt(o.hidden())), new Shape(o.vocab(), o.hidden()),
                    DataType.FLOAT32);
            NDArray th = m.randomNormal(new Shape(o.batch(), o.seq(), o.teacherHidden()));
            NDArray tw = m.randomNormal(0f, (float) (2.0 / Math.sqrt(o.teacherHidden())),
                    new Shape(o.vocab(), o.teacherHidden()), DataType.FLOAT32);
            return new Inputs(h, w, th, tw);
        }
    }

    /**
     * One training step of the output layer and the loss, on fresh leaves (so the gradients it
     * allocates are counted and freed with it); with {@code sample}, memory is sampled throughout.
     */
    private Measurement step(NDManager bench, MallocMemory memory, Inputs inputs, boolean fused, boolean sample)
            throws Exception {
        Loss loss = loss(bench, options.chunkSize());
        try (NDManager own = bench.newSubManager()) {
            NDArray hidden = inputs.hidden().duplicate();
            NDArray weight = inputs.weight().duplicate();
            hidden.attach(own);
            weight.attach(own);
            hidden.setRequiresGradient(true);
            weight.setRequiresGradient(true);
            OutputHead head = OutputHead.of(weight);
            OutputHead teacherHead = OutputHead.of(inputs.teacherWeight());
            AtomicLong peak = new AtomicLong();
            long before = memory.inUse();
            double perToken;
            long left;
            double seconds;
            try (PeakSampler sampler = sample ? new PeakSampler(memory, peak) : null) {
                long t0 = System.nanoTime();
                try (NDManager step = own.newSubManager();
                     GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    Logits student;
                    TeacherOutput teacher;
                    if (fused) {
                        student = Logits.fused(hidden, head);
                        teacher = new TeacherOutput(Logits.fused(inputs.teacherHidden(), teacherHead), List.of());
                    } else {
                        NDArray z = head.apply(hidden);
                        z.attach(step);
                        NDArray zt = teacherHead.apply(inputs.teacherHidden());
                        zt.attach(step);
                        student = Logits.of(z);
                        teacher = new TeacherOutput(zt, null, null, null, List.of());
                    }
                    LossInput in = new LossInput(batch(step), student, List.of(), teacher, List.of(), step, gc);
                    // the probe (mallinfo2 walks the heap) only where memory is measured, not in timed steps
                    LossValue value = sample ? Chunks.probed(() -> peak.accumulateAndGet(memory.inUse(), Math::max),
                            () -> loss.compute(in)) : loss.compute(in);
                    perToken = value.sum().getFloat() / value.count();
                    if (sample) {
                        peak.accumulateAndGet(memory.inUse(), Math::max);
                    }
                    gc.backward(value.sum());
                    if (sample) {
                        peak.accumulateAndGet(memory.inUse(), Math::max);
                    }
                }
                seconds = (System.nanoTime() - t0) / 1e9;
                left = sample ? memory.inUse() - before : 0;
            }
            float[][] gradients = sample ? new float[][] {hidden.getGradient().toFloatArray(),
                weight.getGradient().toFloatArray()} : null;
            return new Measurement(0, peak.get() - before, left, perToken, seconds, gradients);
        }
    }

    /** What one measurement saw. */
    private record Measurement(int chunk, long peakBytes, long leftBytes, double lossPerToken, double seconds,
                               float[][] gradients) {
    }

    /** Reads the native heap every {@value #SAMPLE_NANOS} ns on a daemon thread, keeping the highest reading. */
    private static final class PeakSampler implements AutoCloseable {
        private volatile boolean running = true;
        private final Thread thread;

        PeakSampler(MallocMemory memory, AtomicLong peak) {
            thread = new Thread(() -> {
                while (running) {
                    peak.accumulateAndGet(memory.inUse(), Math::max);
                    LockSupport.parkNanos(SAMPLE_NANOS);
                }
            }, "bench-loss-memory");
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            running = false;
            thread.join();
        }
    }

    private TokenBatch batch(NDManager step) {
        NDArray mask = step.ones(new Shape(options.batch(), options.seq()), DataType.FLOAT32);
        mask.set(new NDIndex(":, :{}", Math.min(PROMPT, options.seq() / 8)), 0f);
        return new TokenBatch(null, null, null, mask, null);
    }

    /** The loss at temperature 1 with {@code chunkSize} positions per chunk, as a run would build it. */
    private Loss loss(NDManager manager, int chunkSize) {
        Config params = ConfigFactory.parseMap(Map.of("temperature", 1.0, "chunk-size", chunkSize))
                .withFallback(defaults);
        return factory.create(new LossContext(manager, 0, null, null, null, "bench"), params);
    }

    /** One small loss first, so that thread pools and other one-off native state exist before measuring. */
    private void warmUp(NDManager bench, MallocMemory memory) throws Exception {
        try (NDManager warm = bench.newSubManager()) {
            NDArray logits = warm.randomNormal(new Shape(2, 8, 128));
            Loss loss = loss(warm, 4);
            LossInput in = new LossInput(new TokenBatch(null, null, null, warm.ones(new Shape(2, 8)), null), logits,
                    List.of(), new TeacherOutput(logits.add(0.5f), null, null, null, List.of()), List.of(), warm);
            loss.compute(in).sum().getFloat();
            memory.inUse();
        }
    }

    private static double largestDifference(float[][] a, float[][] b) {
        double worst = 0;
        for (int k = 0; k < a.length; k++) {
            double scale = 1e-12;
            for (float x : a[k]) {
                scale = Math.max(scale, Math.abs(x));
            }
            for (int i = 0; i < a[k].length; i++) {
                worst = Math.max(worst, Math.abs(a[k][i] - b[k][i]) / scale);
            }
        }
        return worst;
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }
}
