package org.distillery.models.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.tensor.TensorService;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;

/**
 * The teacher-precision part of {@code distill bench forward}: one teacher, held in float32 (the
 * reference), in float16 converted from the float32 file, and in float16 from a bfloat16 copy of
 * the weights ({@code teacher.params.dtype = auto} on a bfloat16 checkpoint), each scoring the
 * same inputs with one inference forward.
 *
 * <p>Four ways to hold it: float32; float16 weights computing in the service's auto choice (float32
 * on a CPU, widening one weight per operation; float16 on a GPU); float16 weights computing in
 * float16 (what a GPU runs; on a CPU, PyTorch's slow float16 kernels); and the bfloat16 copy held in
 * float16 with the auto compute. Per way: the teacher's resident bytes (every live array of the
 * service after loading, i.e. the parameters; exact, from the engine's managers) against float32;
 * the median forward time of {@code repeats} forwards and its ratio to float32's; and the error of its log-probabilities
 * (log-softmax of the float32 logits the model returns) against float32's at every position:
 * top-1 agreement, the mean over positions of the probability-weighted mean |delta log p|
 * ({@code sum_v p32(v) |log p32(v) - log p(v)|}), the mean and largest |delta log p| of float32's
 * top-1 token, and the mean KL(p32 || p).
 *
 * <p>Two teachers: a model folder given by the caller (the embedded teacher, trained: its logits
 * have real margins, the case the goal is about) and the step benchmark's random Llama-style
 * model (d 512, 8 layers, vocabulary 8192: its memory is mostly matrices, but random weights
 * give nearly flat distributions whose top-1 is often a near-tie, so its agreement is a worst case).
 */
public final class TeacherPrecisionBench {

    private TeacherPrecisionBench() {
    }

    /** One precision's figures. */
    private record Figures(String label, long liveBytes, double forwardMillis, double top1Agreement,
                           double weightedAbs, double top1MeanAbs, double top1MaxAbs, double kl) {
    }

    /**
     * Measures and prints both teachers (the inputs are scored after a first, untimed forward).
     *
     * @param teacherDir a trained teacher's model folder, or {@code null} to skip it
     * @param inputs input ids of the trained teacher's batch, [batch][seq] (right-padded rows are fine:
     *     every position is compared)
     * @param o the step benchmark's model shape (its random model is the second teacher)
     */
    public static void run(PrintStream out, TensorService tensors, Path teacherDir, long[][] inputs,
                           ForwardBench.Options o, int repeats) throws IOException {
        out.printf(Locale.ROOT, "%nteacher precision: the same teacher held in float32 (the reference) and in float16 "
                + "(from the float32 file, and from a bfloat16 copy: DJL's PyTorch engine has no bfloat16 arrays); "
                + "%d timed forwards each after one untimed, median; resident bytes = the service's live arrays after "
                + "loading%n", repeats);
        Path tmp = Files.createTempDirectory("distill-bench-precision-");
        HfModelService models = new HfModelService();
        try (NDManager run = tensors.newRunScope("bench-precision")) {
            matmuls(out, run, Math.min(512, Math.max(64, o.hidden())));
            if (teacherDir != null) {
                Path bf16 = tmp.resolve("teacher-bf16");
                try (LanguageModel m = models.load(teacherDir, DataType.FLOAT32, run)) {
                    models.save(m, bf16, DataType.BFLOAT16);
                }
                compare(out, "trained teacher " + teacherDir.getFileName() + " (" + models.readConfig(teacherDir)
                        .modelType() + ")", tensors, models, teacherDir, bf16, inputs, repeats, run);
            }
            Path f32 = tmp.resolve("random-f32");
            Path bf16 = tmp.resolve("random-bf16");
            Map<String, Object> raw = new LinkedHashMap<>();
            raw.put("model_type", "llama");
            raw.put("hidden_size", o.hidden());
            raw.put("num_hidden_layers", o.layers());
            raw.put("num_attention_heads", o.heads());
            raw.put("num_key_value_heads", o.heads());
            raw.put("intermediate_size", o.intermediate());
            raw.put("vocab_size", o.vocab());
            raw.put("max_position_embeddings", Math.max(2048, o.seq()));
            raw.put("tie_word_embeddings", false);
            try (LanguageModel m = models.create(ModelConfigs.fromMap(raw), o.seed(), run)) {
                models.save(m, f32, DataType.FLOAT32);
                models.save(m, bf16, DataType.BFLOAT16);
            }
            SplittableRandom r = new SplittableRandom(o.seed());
            long[][] ids = new long[o.batch()][o.seq()];
            for (long[] row : ids) {
                for (int t = 0; t < row.length; t++) {
                    row[t] = r.nextInt(o.vocab());
                }
            }
            compare(out, String.format(Locale.ROOT, "random Llama-style model (d %d, %d layers, vocabulary %d)",
                    o.hidden(), o.layers(), o.vocab()), tensors, models, f32, bf16, ids, repeats, run);
        } finally {
            try (Stream<Path> s = Files.walk(tmp)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static void compare(PrintStream out, String title, TensorService tensors, HfModelService models,
                                 Path f32Dir, Path bf16Dir, long[][] ids, int repeats, NDManager run) throws IOException {
        int batch = ids.length;
        int seq = ids[0].length;
        long[] flat = new long[batch * seq];
        for (int b = 0; b < batch; b++) {
            System.arraycopy(ids[b], 0, flat, b * seq, seq);
        }
        float[] reference = null;
        List<Figures> rows = new ArrayList<>();
        DataType computeHalf = tensors.device().isGpu() ? DataType.FLOAT16 : DataType.FLOAT32;
        Object[][] plans = {
            {"float32", f32Dir, DataType.FLOAT32, DataType.FLOAT32},
            {"float16, compute " + name(computeHalf) + " (auto)", f32Dir, DataType.FLOAT16, computeHalf},
            {"float16, compute float16", f32Dir, DataType.FLOAT16, DataType.FLOAT16},
            {"bf16 file -> float16 (auto)", bf16Dir, DataType.FLOAT16, computeHalf}};
        int vocab = 0;
        for (Object[] plan : plans) {
            long liveBefore = tensors.memory().tensorBytes();
            try (NDManager scope = run.newSubManager();
                 LanguageModel m = models.load((Path) plan[1], (DataType) plan[2], (DataType) plan[3], scope)) {
                long live = tensors.memory().tensorBytes() - liveBefore;
                vocab = m.config().vocabSize();
                float[] lp = null;
                double[] times = new double[repeats];
                for (int i = 0; i <= repeats; i++) {
                    try (NDManager step = scope.newSubManager()) {
                        NDArray in = step.create(flat, new Shape(batch, seq));
                        long t0 = System.nanoTime();
                        NDArray logits = m.forward(in, ForwardOptions.inference()).logits();
                        NDArray logProbs = logits.logSoftmax(-1);
                        float[] values = logProbs.toFloatArray();
                        if (i > 0) {
                            times[i - 1] = (System.nanoTime() - t0) / 1e6;
                        } else {
                            lp = values; // the first forward warms up, and gives the values
                        }
                    }
                }
                if (reference == null) {
                    reference = lp;
                }
                double[] err = errors(reference, lp, vocab);
                rows.add(new Figures((String) plan[0], live, BenchSupport.median(times), err[0], err[1], err[2], err[3],
                        err[4]));
            }
        }
        Figures base = rows.get(0);
        out.printf(Locale.ROOT, "%s; input [%d x %d], %d positions%n", title, batch, seq, batch * seq);
        out.printf(Locale.ROOT, "  %-32s %14s %8s %9s %8s %9s %11s %11s %10s %9s%n", "weights held as",
                "resident bytes", "% fp32", "fwd ms", "x fp32", "top-1 %", "E_p|dlogp|", "top1 |dlp|", "top1 max", "KL");
        for (Figures f : rows) {
            out.printf(Locale.ROOT, "  %-32s %,14d %7.1f%% %9.1f %7.2fx %8.2f%% %11.2e %11.2e %10.2e %9.2e%n",
                    f.label(), f.liveBytes(), 100.0 * f.liveBytes() / base.liveBytes(), f.forwardMillis(),
                    f.forwardMillis() / base.forwardMillis(), 100 * f.top1Agreement(), f.weightedAbs(), f.top1MeanAbs(),
                    f.top1MaxAbs(), f.kl());
        }
        Figures half = rows.get(1);
        out.printf(Locale.ROOT, "  goals (float16 weights, auto compute): resident <= 55%% of float32: %.1f%% %s; top-1 agreement "
                        + ">= 99%%: %.2f%% %s; mean |delta log p| (p-weighted) %.2e nats%n",
                100.0 * half.liveBytes() / base.liveBytes(), half.liveBytes() <= 0.55 * base.liveBytes() ? "met" : "NOT met",
                100 * half.top1Agreement(), half.top1Agreement() >= 0.99 ? "met" : "NOT met", half.weightedAbs());
    }

    /** One square product in float32 and in float16, best of 5 after a warm-up: what each precision computes at. */
    private static void matmuls(PrintStream out, NDManager run, int n) {
        double[] ms = new double[2];
        DataType[] types = {DataType.FLOAT32, DataType.FLOAT16};
        try (NDManager m = run.newSubManager()) {
            NDArray a = m.randomNormal(new Shape(n, n));
            NDArray b = m.randomNormal(new Shape(n, n));
            for (int i = 0; i < types.length; i++) {
                NDArray x = a.toType(types[i], true);
                NDArray y = b.toType(types[i], true);
                x.matMul(y).close();
                double best = Double.MAX_VALUE;
                for (int r = 0; r < 5; r++) {
                    long t0 = System.nanoTime();
                    x.matMul(y).close();
                    best = Math.min(best, (System.nanoTime() - t0) / 1e6);
                }
                ms[i] = best;
            }
        }
        out.printf(Locale.ROOT, "matmul [%d x %d] x [%d x %d] on %s: float32 %.2f ms (%.1f GFLOP/s), float16 %.2f ms "
                        + "(%.1f GFLOP/s): float16 takes %.1fx float32's time%n", n, n, n, n, run.getDevice(), ms[0],
                2.0 * n * n * n / ms[0] / 1e6, ms[1], 2.0 * n * n * n / ms[1] / 1e6, ms[1] / ms[0]);
    }

    private static String name(DataType t) {
        return t == DataType.FLOAT16 ? "float16" : "float32";
    }

    /**
     * Against the reference log-probabilities: top-1 agreement, mean p-weighted |delta|, mean and
     * largest |delta| at the reference's top-1, and mean KL(ref || other), over positions.
     */
    static double[] errors(float[] ref, float[] other, int vocab) {
        int positions = ref.length / vocab;
        int agree = 0;
        double weighted = 0;
        double top1 = 0;
        double top1Max = 0;
        double kl = 0;
        for (int p = 0; p < positions; p++) {
            int base = p * vocab;
            int a = 0;
            int b = 0;
            double w = 0;
            double k = 0;
            for (int v = 0; v < vocab; v++) {
                if (ref[base + v] > ref[base + a]) {
                    a = v;
                }
                if (other[base + v] > other[base + b]) {
                    b = v;
                }
                double pv = Math.exp(ref[base + v]);
                double d = (double) ref[base + v] - other[base + v];
                w += pv * Math.abs(d);
                k += pv * d;
            }
            agree += a == b ? 1 : 0;
            weighted += w;
            kl += k;
            double d1 = Math.abs((double) ref[base + a] - other[base + a]);
            top1 += d1;
            top1Max = Math.max(top1Max, d1);
        }
        return new double[] {(double) agree / positions, weighted / positions, top1 / positions, top1Max,
            kl / positions};
    }
}
