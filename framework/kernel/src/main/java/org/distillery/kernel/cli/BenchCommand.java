package org.distillery.kernel.cli;

import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionKind;
import org.distillery.api.loss.LossFactory;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.bench.LossBench;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.bench.ForwardBench;
import org.distillery.models.bench.GenerateBench;
import org.distillery.tensor.DjlTensorService;
import org.osgi.framework.Bundle;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code distill bench ...}: measured figures, printed; nothing here asserts a time. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Print measured performance figures.",
        subcommands = {BenchCommand.KernelBench.class, BenchCommand.GenerateCommand.class,
            BenchCommand.ForwardCommand.class, BenchCommand.LossCommand.class, ServeBenchCommand.class,
            RolloutBenchCommand.class, SparkBenchCommand.class, SoakBenchCommand.class})
final class BenchCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    /** {@code distill bench kernel}. */
    @Command(name = "kernel", mixinStandardHelpOptions = true,
            description = "Cold start to ready (engine start included) and hot-swap latency of a loss bundle.")
    static final class KernelBench implements Callable<Integer> {
        @Option(names = "--swaps", description = "bundle updates to time (default 20)")
        int swaps = 20;

        @Option(names = "--loss", description = "loss key whose bundle is updated (default kd.forward-kl)")
        String key = "kd.forward-kl";

        @Override
        public Integer call() throws Exception {
            long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
            try (Kernel kernel = Distill.boot("cpu")) {
                long sinceJvm = System.currentTimeMillis() - jvmStart;
                System.out.printf(Locale.ROOT, "kernel ready: %.0f ms (engine + Felix + %d bundles); %d ms since JVM start%n",
                        kernel.readyNanos() / 1e6, kernel.bundles().size(), sinceJvm);
                kernel.startupPhases().forEach((phase, nanos) -> System.out.printf(Locale.ROOT,
                        "  %-16s %7.0f ms  %5.1f%% of ready%n", phase, nanos / 1e6, 100.0 * nanos / kernel.readyNanos()));
                var first = kernel.registry().find(ContributionKind.LOSS, key, LossFactory.class);
                if (first.isEmpty()) {
                    System.out.println("no bundle provides " + key + "; hot-swap latency not measured");
                    return ExitCodes.FAILED;
                }
                Bundle provider = null;
                for (Bundle b : kernel.bundles()) {
                    if (first.get().info().bundle().equals(b.getSymbolicName())) {
                        provider = b;
                    }
                }
                byte[] jar = Files.readAllBytes(Path.of(URI.create(provider.getLocation())));
                List<Double> millis = new ArrayList<>();
                Object previous = first.get().factory();
                for (int i = 0; i < swaps; i++) {
                    long t0 = System.nanoTime();
                    try (InputStream in = new java.io.ByteArrayInputStream(jar)) {
                        provider.update(in);
                    }
                    Object now;
                    while ((now = kernel.registry().find(ContributionKind.LOSS, key, LossFactory.class)
                            .map(c -> (Object) c.factory()).orElse(null)) == null || now == previous) {
                        Thread.onSpinWait();
                    }
                    millis.add((System.nanoTime() - t0) / 1e6);
                    previous = now;
                }
                Collections.sort(millis);
                System.out.printf(Locale.ROOT, "hot swap (bundle update -> new %s in registry), %d updates: "
                        + "median %.1f ms, min %.1f ms, max %.1f ms%n", key, swaps, millis.get(millis.size() / 2),
                        millis.get(0), millis.get(millis.size() - 1));
                System.out.println("a run resolves its losses at every step boundary, so a swap takes effect at the "
                        + "first step that starts after it is visible");
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench generate}. */
    @Command(name = "generate", mixinStandardHelpOptions = true,
            description = {"Greedy decoding tokens/s of a random ~20M-parameter Llama-style model, with and without "
                + "the KV cache, and the speed-up of the cache, per number of new tokens.",
                "Defaults: hidden 384, 6 layers, 6 heads, SwiGLU 1536, vocab 8192; batch 1; 32, 128 and 512 new tokens.",
                "Without the cache every step re-runs the whole sequence (about 135k token positions for 512 new "
                + "tokens), which takes minutes on 2 CPU cores; --lengths 32,128 is a quick check."})
    static final class GenerateCommand implements Callable<Integer> {
        @Option(names = "--lengths", split = ",", paramLabel = "N",
                description = "new tokens per measurement (default 32,128,512)")
        int[] lengths = {32, 128, 512};

        @Option(names = "--batch", split = ",", paramLabel = "B", description = "batch sizes (default 1), e.g. 1,4")
        int[] batches = {1};

        @Option(names = "--repeats", description = "runs per figure, the best is printed (default 1)")
        int repeats = 1;

        @Option(names = "--device", description = "auto (default), cpu, gpu or gpu:N")
        String device = "auto";

        @Override
        public Integer call() {
            GenerateBench.Options o = GenerateBench.Options.defaults().withLengths(lengths).withBatches(batches)
                    .withRepeats(repeats);
            checked("generate", o::check);
            try (DjlTensorService tensors = startTensors("generate", device)) {
                GenerateBench.run(System.out, tensors, o);
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench forward}. */
    @Command(name = "forward", mixinStandardHelpOptions = true,
            description = {"Achieved FLOP/s of a training step (forward + cross-entropy + backward) of a Llama-style "
                + "model as a percentage of the fp32 matmul peak measured by the same command.",
                "Defaults: d 512, 8 layers, 8 heads, SwiGLU 1376, vocab 8192, seq 256, batch 4. "
                + "FLOPs/step = 6 * N_mm * B * S + 12 * L * B * S^2 * d (printed with its terms)."})
    static final class ForwardCommand implements Callable<Integer> {
        @Option(names = "--batch", description = "sequences per step (default 4)")
        int batch = 4;

        @Option(names = "--seq", description = "tokens per sequence (default 256)")
        int seq = 256;

        @Option(names = "--hidden", description = "model width d (default 512; heads stay of width 64)")
        int hidden = 512;

        @Option(names = "--layers", description = "decoder layers (default 8)")
        int layers = 8;

        @Option(names = "--vocab", description = "vocabulary (default 8192)")
        int vocab = 8192;

        @Option(names = "--steps", description = "timed steps (default 5)")
        int steps = 5;

        @Option(names = "--warmup", description = "untimed steps first (default 1)")
        int warmup = 1;

        @Option(names = "--matmul-size", description = "n of the square n x n x n peak matmul (default 2048)")
        int matmulSize = 2048;

        @Option(names = "--device", description = "auto (default), cpu, gpu or gpu:N")
        String device = "auto";

        @Option(names = "--vlm", description = {"a LLaVA model instead: a SigLIP-style tower (224 pixels in 16-pixel "
            + "patches: 196 image tokens, width 384, 6 layers, MLP 1536) and the language model above, each sequence "
            + "one image's tokens then text; the tower frozen, projector and language model trained."})
        boolean vlm;

        @Override
        public Integer call() {
            ForwardBench.Options d = ForwardBench.Options.defaults();
            int heads = Math.max(1, hidden / 64);
            int ff = hidden == d.hidden() ? d.intermediate() : (int) Math.round(hidden * 2.6875);
            ForwardBench.Options o = d.withShape(batch, seq).withModel(hidden, layers, heads, ff, vocab)
                    .withSteps(warmup, steps).withMatmul(matmulSize, d.matmulRepeats());
            checked("forward", o::check);
            ForwardBench.Vision v = ForwardBench.Vision.defaults();
            if (vlm) {
                checked("forward", () -> v.check(seq));
            }
            try (DjlTensorService tensors = startTensors("forward", device)) {
                if (vlm) {
                    ForwardBench.runVlm(System.out, tensors, o, v);
                } else {
                    ForwardBench.run(System.out, tensors, o);
                }
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench loss}: measures the registry's {@code kd.forward-kl} through the kit's chunk probe. */
    @Command(name = "loss", mixinStandardHelpOptions = true,
            description = {"Peak native memory of kd.forward-kl (vocab 32000, seq 512, batch 8, fp32), chunked versus "
                + "unchunked.", "Boots the kernel and measures the " + LossCommand.KEY
                + " that the installed bundles provide."})
    static final class LossCommand implements Callable<Integer> {
        static final String KEY = "kd.forward-kl";

        @Override
        public Integer call() throws Exception {
            try (Kernel kernel = Distill.boot("cpu")) {
                var found = kernel.registry().find(ContributionKind.LOSS, KEY, LossFactory.class);
                if (found.isEmpty()) {
                    System.err.println("error: no bundle provides " + KEY + " in this distribution; distill bench "
                            + "loss needs the kd-core bundle in bundles/ (see distill list bundles)");
                    return ExitCodes.FAILED;
                }
                System.out.println("loss: " + found.get().info().coordinates());
                try (NDManager manager = kernel.tensors().newRunScope("bench")) {
                    LossBench.run(System.out, manager, found.get());
                }
                System.out.flush();
            }
            return ExitCodes.OK;
        }
    }

    /** Starts the tensor service; a malformed or absent device is invalid input (exit code 2). */
    private static DjlTensorService startTensors(String command, String device) {
        checked(command, () -> DjlTensorService.checkSpec(device));
        try {
            return DjlTensorService.start(device);
        } catch (IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("device ")) {
                throw new ExperimentException(List.of("bench " + command + ": " + e.getMessage()));
            }
            throw e;
        }
    }

    /** Runs {@code check}, turning its {@link IllegalArgumentException} into invalid input (exit code 2). */
    private static void checked(String command, Runnable check) {
        try {
            check.run();
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("bench " + command + ": " + e.getMessage()));
        }
    }
}
