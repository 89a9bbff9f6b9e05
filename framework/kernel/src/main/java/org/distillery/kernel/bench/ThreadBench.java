package org.distillery.kernel.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.tensor.CpuBudget;
import org.distillery.tensor.DjlTensorService;
import org.distillery.tensor.ThreadPolicy;
import org.distillery.tensor.ThreadSettings;

/**
 * {@code distill bench threads}: what PyTorch's intra-op thread count does to a training step when
 * the cores are free and when another process keeps them busy. The step: forward, cross-entropy
 * on random targets and backward of a random Llama-style model (hidden 384, 4 layers, 6 heads,
 * SwiGLU 1024, vocabulary 4096, untied head; batch 4 x 128 tokens). For each thread count (1, and the cores
 * available to the process, which {@code auto} picks) it times {@code steps} steps alone, then
 * with a competing process: a child JVM spinning one busy thread per core available (a stand-in
 * for another job, as in a shared machine or a second run). The configurations alternate, a round
 * at a time, so a change of the machine's load touches all of them alike; medians are printed.
 */
public final class ThreadBench {

    private ThreadBench() {
    }

    /** A competing process: {@code n} threads spinning until it is killed. */
    public static final class Spinner {
        private Spinner() {
        }

        /** Spins {@code args[0]} threads. */
        public static void main(String[] args) {
            int n = Integer.parseInt(args[0]);
            for (int i = 0; i < n; i++) {
                Thread t = new Thread(() -> {
                    long x = 0;
                    while (true) {
                        x = x * 6364136223846793005L + 1442695040888963407L;
                        if (x == 42) {
                            System.out.print("");
                        }
                    }
                }, "spinner-" + i);
                t.start();
            }
        }
    }

    /** Runs the benchmark; {@code rounds} rounds of {@code steps} timed steps per configuration. */
    public static void run(PrintStream out, DjlTensorService tensors, int steps, int rounds)
            throws IOException, InterruptedException {
        CpuBudget budget = CpuBudget.detect();
        int cores = budget.available();
        out.printf(Locale.ROOT, "distill bench threads: %s; load average at start %.2f; auto would pick %s%n",
                budget.describe(), budget.loadAverage(),
                ThreadPolicy.resolve("auto", Map.of(), new Properties(), budget).describe());
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "llama");
        raw.put("hidden_size", 384);
        raw.put("num_hidden_layers", 4);
        raw.put("num_attention_heads", 6);
        raw.put("num_key_value_heads", 6);
        raw.put("intermediate_size", 1024);
        raw.put("vocab_size", 4096);
        raw.put("max_position_embeddings", 512);
        int[] counts = cores > 1 ? new int[] {1, cores} : new int[] {1};
        Map<String, List<Double>> millis = new LinkedHashMap<>();
        ThreadSettings before = tensors.threads();
        long parameters = 0;
        try (NDManager run = tensors.newRunScope("bench-threads");
             LanguageModel model = new HfModelService().create(ModelConfigs.fromMap(raw), 11, run)) {
            for (NDArray p : model.parameters().values()) {
                p.setRequiresGradient(true);
                parameters += p.size();
            }
            for (int count : counts) {
                tensors.setThreads(new ThreadSettings(count, before.interOp(), "bench"));
                step(run, model); // warm-up at this count
            }
            for (int r = 0; r < rounds; r++) {
                for (boolean contended : new boolean[] {false, true}) {
                    Process spinner = contended ? spin(cores) : null;
                    try {
                        if (spinner != null) {
                            Thread.sleep(300); // let the spinners take the cores
                        }
                        for (int count : counts) {
                            tensors.setThreads(new ThreadSettings(count, before.interOp(), "bench"));
                            List<Double> times = millis.computeIfAbsent(key(count, contended), k -> new ArrayList<>());
                            for (int s = 0; s < steps; s++) {
                                times.add(step(run, model));
                            }
                        }
                    } finally {
                        if (spinner != null) {
                            spinner.destroyForcibly().waitFor();
                        }
                    }
                }
            }
        } finally {
            tensors.setThreads(before);
        }
        out.printf(Locale.ROOT, "training step (batch 4 x 128 tokens, random Llama-style model of %.1fM parameters), "
                + "%d rounds x %d steps per configuration, median ms:%n", parameters / 1e6, rounds, steps);
        out.printf(Locale.ROOT, "  %-8s %12s %26s %10s%n", "threads", "alone", "another process, " + cores + " busy",
                "slow-down");
        for (int count : counts) {
            double alone = median(millis.get(key(count, false)));
            double busy = median(millis.get(key(count, true)));
            out.printf(Locale.ROOT, "  %-8d %12.1f %26.1f %9.2fx%n", count, alone, busy, busy / alone);
        }
        if (counts.length > 1) {
            int many = counts[1];
            out.printf(Locale.ROOT, "  %d threads against 1: alone %.2fx the time, with the other process %.2fx%n",
                    many, median(millis.get(key(many, false))) / median(millis.get(key(1, false))),
                    median(millis.get(key(many, true))) / median(millis.get(key(1, true))));
        }
        out.printf(Locale.ROOT, "load average at the end %.2f%n", CpuBudget.detect().loadAverage());
    }

    private static String key(int count, boolean contended) {
        return count + (contended ? "/busy" : "/alone");
    }

    private static Process spin(int n) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.add("-Xmx64m");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Spinner.class.getName());
        cmd.add(Integer.toString(n));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
    }

    /** One training step; milliseconds. */
    private static double step(NDManager run, LanguageModel model) {
        try (NDManager step = run.newSubManager()) {
            NDArray ids = step.randomInteger(0, 4096, new Shape(4, 128), DataType.INT64);
            NDArray targets = step.randomInteger(0, 4096, new Shape(4, 128, 1), DataType.INT64);
            long t0 = System.nanoTime();
            try (GradientCollector gc = step.getEngine().newGradientCollector()) {
                NDArray logits = model.forward(ids, ForwardOptions.train()).logits();
                gc.backward(logits.logSoftmax(-1).gather(targets, 2).mean().neg());
            }
            NDArray g = model.parameters().values().iterator().next().getGradient();
            g.attach(step);
            g.get(0).get(0).getFloat();
            double ms = (System.nanoTime() - t0) / 1e6;
            for (NDArray p : model.parameters().values()) {
                NDArray grad = p.getGradient();
                grad.attach(step);
                grad.muli(0);
            }
            return ms;
        }
    }

    private static double median(List<Double> xs) {
        double[] s = xs.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }
}
