package org.distillery.kernel.bench;

import java.io.PrintStream;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.training.GradientCollector;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.Contribution;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.loss.Chunks;

/**
 * {@code distill bench loss}: peak native memory of {@code kd.forward-kl} over vocabulary
 * 32000, sequence 512, batch 8 (fp32 logits), unchunked versus chunked. The loss is the one the
 * kernel's registry provides (kd-core's), built through its factory with {@code chunk-size} set, and
 * measured through the kit's chunk probe ({@link Chunks#probed}), so the benchmark measures exactly
 * what a run uses without reaching into the bundle.
 *
 * <p>How the peak is measured: the native heap in use ({@link MallocMemory}, glibc
 * {@code mallinfo2}) is read before the loss, after every chunk while that chunk's
 * intermediates are still alive (every intermediate of a chunk is held by its sub-manager
 * until the chunk ends, so this is the chunk's high-water mark up to temporaries inside a
 * single operator), and after the loss. The figure reported is the peak above the memory in
 * use before the call, i.e. what the loss adds on top of the two logits tensors it reads.
 *
 * <p>Two settings. <b>Forward only</b> (no gradient recording, as in evaluation). <b>Training</b>:
 * the student logits record gradients and the loss runs under a gradient collector as the
 * trainer runs it. Unchunked, that is one autograd graph over the whole [batch, seq, vocab]
 * (everything its backward needs stays alive until backward); chunked, each chunk is
 * differentiated on its own and leaves only its gradient behind (see {@code Chunks}). The
 * training figures are the peak above the inputs over the chunk probes, the moment before
 * {@code backward} and the moment after it (the logits' gradient, the same in both, is included).
 */
public final class LossBench {

    private static final int BATCH = 8;
    private static final int SEQ = 512;
    private static final int VOCAB = 32000;
    private static final int CHUNK = 64;
    private static final int PROMPT = 64;
    private static final double MB = 1024.0 * 1024.0;

    private final LossFactory factory;
    private final Config defaults;

    private LossBench(LossFactory factory, Config defaults) {
        this.factory = factory;
        this.defaults = defaults;
    }

    /**
     * Runs the benchmark on {@code loss} (kd.forward-kl's factory and defaults from the registry) in a
     * sub-manager of {@code parent} and prints the report to {@code out}.
     */
    public static void run(PrintStream out, NDManager parent, Contribution<LossFactory> loss) throws Exception {
        new LossBench(loss.factory(), loss.defaults()).run(out, parent);
    }

    private void run(PrintStream out, NDManager parent) throws Exception {
        Optional<MallocMemory> probe = MallocMemory.open();
        if (probe.isEmpty()) {
            out.println("distill bench loss: native memory is read with glibc mallinfo2 (64-bit glibc 2.33+), "
                    + "not available here");
            return;
        }
        MallocMemory memory = probe.get();
        try (NDManager bench = parent.newSubManager()) {
            warmUp(bench, memory);
            Shape shape = new Shape(BATCH, SEQ, VOCAB);
            long before = memory.inUse();
            NDArray student = bench.randomNormal(0f, 2f, shape, DataType.FLOAT32);
            NDArray teacher = bench.randomNormal(0f, 2f, shape, DataType.FLOAT32);
            NDArray mask = bench.ones(new Shape(BATCH, SEQ), DataType.FLOAT32);
            mask.set(new NDIndex(":, :{}", PROMPT), 0f);
            long inputs = memory.inUse() - before;

            out.printf(Locale.ROOT, "distill bench loss: kd.forward-kl, batch %d, seq %d, vocab %d, fp32, %s%n",
                    BATCH, SEQ, VOCAB, parent.getDevice());
            out.printf(Locale.ROOT, "  inputs (student + teacher logits): %.1f MB native%n", inputs / MB);
            out.println("  forward only:");
            report(out, measure(bench, memory, student, teacher, mask, SEQ),
                    measure(bench, memory, student, teacher, mask, CHUNK));
            out.println("  training (gradient recorded, then backward):");
            Measurement unchunked = measureTraining(bench, memory, student, teacher, mask, SEQ);
            Measurement chunked = measureTraining(bench, memory, student, teacher, mask, CHUNK);
            report(out, unchunked, chunked);
            // What is left after backward is the logits' gradient, which the model's backward needs
            // whatever the loss does; the loss's own working memory is the peak above it.
            long gradient = Math.min(unchunked.leftBytes, chunked.leftBytes);
            double ratio = (double) (chunked.peakBytes - gradient) / (unchunked.peakBytes - gradient);
            out.printf(Locale.ROOT, "    peak above inputs and the logits' gradient (%.1f MB, same in both): "
                    + "%.1f MB vs %.1f MB = %.1f%% (goal <= 20%%): %s%n", gradient / MB,
                    (chunked.peakBytes - gradient) / MB, (unchunked.peakBytes - gradient) / MB, 100 * ratio,
                    ratio <= 0.2 ? "met" : "NOT met");
        }
    }

    private static void report(PrintStream out, Measurement unchunked, Measurement chunked) {
        for (Measurement m : List.of(unchunked, chunked)) {
            out.printf(Locale.ROOT, "    chunk-size %4d: peak native above inputs %8.1f MB, after %6.1f MB, loss/token %.6f%n",
                    m.chunkSize, m.peakBytes / MB, m.leftBytes / MB, m.lossPerToken);
        }
        double ratio = (double) chunked.peakBytes / unchunked.peakBytes;
        out.printf(Locale.ROOT, "    chunked / unchunked peak: %.1f%% (goal <= 20%%): %s%n", 100 * ratio,
                ratio <= 0.2 ? "met" : "NOT met");
    }

    private record Measurement(int chunkSize, long peakBytes, long leftBytes, double lossPerToken) {
    }

    /** Measures on a fresh copy of the logits, so each setting allocates its own gradient. */
    private Measurement measureTraining(NDManager bench, MallocMemory memory, NDArray logits,
                                        NDArray teacher, NDArray mask, int chunkSize) throws Exception {
        try (NDManager own = bench.newSubManager()) {
            NDArray student = logits.duplicate();
            student.attach(own);
            student.setRequiresGradient(true);
            return measureTraining(own, memory, student, teacher, mask, chunkSize, memory.inUse());
        }
    }

    private Measurement measureTraining(NDManager bench, MallocMemory memory, NDArray student,
                                        NDArray teacher, NDArray mask, int chunkSize, long before) throws Exception {
        Loss loss = loss(bench, chunkSize);
        long[] peak = {0};
        double perToken;
        try (NDManager step = bench.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            LossInput in = input(student, teacher, mask, step);
            boolean chunked = chunkSize < SEQ;
            LossValue value = Chunks.probed(() -> peak[0] = Math.max(peak[0], memory.inUse()),
                    () -> loss.compute(chunked ? new LossInput(in.batch(), student, List.of(), in.teacher(),
                            List.of(), step, gc) : in));
            perToken = value.sum().getFloat() / value.count();
            peak[0] = Math.max(peak[0], memory.inUse());
            gc.backward(value.sum());
            peak[0] = Math.max(peak[0], memory.inUse());
            value.sum().close();
        }
        return new Measurement(chunkSize, peak[0] - before, memory.inUse() - before, perToken);
    }

    private Measurement measure(NDManager bench, MallocMemory memory, NDArray student, NDArray teacher,
                                NDArray mask, int chunkSize) throws Exception {
        Loss loss = loss(bench, chunkSize);
        long[] peak = {0};
        long before = memory.inUse();
        double perToken;
        try (NDManager step = bench.newSubManager()) {
            LossValue value = Chunks.probed(() -> peak[0] = Math.max(peak[0], memory.inUse()),
                    () -> loss.compute(input(student, teacher, mask, step)));
            perToken = value.sum().getFloat() / value.count();
            peak[0] = Math.max(peak[0], memory.inUse());
        }
        return new Measurement(chunkSize, peak[0] - before, memory.inUse() - before, perToken);
    }

    private static LossInput input(NDArray student, NDArray teacher, NDArray mask, NDManager step) {
        TokenBatch batch = new TokenBatch(null, null, null, mask, null);
        TeacherOutput teacherOutput = new TeacherOutput(teacher, null, null, null, List.of());
        return new LossInput(batch, student, List.of(), teacherOutput, List.of(), step);
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
            measure(warm, memory, logits, logits.add(0.5f), warm.ones(new Shape(2, 8)), 4);
        }
    }

}
