package org.distillery.kernel.cli;

import java.io.InputStream;
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
import org.distillery.api.merge.MergerFactory;
import org.distillery.eval.EvalResources;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.bench.KernelStartBench;
import org.distillery.kernel.bench.LossBench;
import org.distillery.kernel.bench.MergeBench;
import org.distillery.kernel.bench.OverheadBench;
import org.distillery.kernel.bench.ThreadBench;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.bench.ForwardBench;
import org.distillery.models.bench.GenerateBench;
import org.distillery.models.bench.TeacherPrecisionBench;
import org.distillery.teachers.cache.CacheBench;
import org.distillery.teachers.cache.TeacherIdentity;
import org.distillery.tensor.DjlTensorService;
import org.osgi.framework.Bundle;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code distill bench ...}: measured figures, printed; nothing here asserts a time. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Print measured performance figures.",
        subcommands = {BenchCommand.KernelBench.class, BenchCommand.GenerateCommand.class,
            BenchCommand.ForwardCommand.class, BenchCommand.LossCommand.class, BenchCommand.OverheadCommand.class,
            BenchCommand.MergeCommand.class, BenchCommand.CacheCommand.class, BenchCommand.ThreadsCommand.class,
            ServeBenchCommand.class, RolloutBenchCommand.class, SparkBenchCommand.class, SoakBenchCommand.class})
final class BenchCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    /** {@code distill bench kernel}. */
    @Command(name = "kernel", mixinStandardHelpOptions = true,
            description = {"Cold start to ready (engine start included) and hot-swap latency of a loss bundle.",
                "Each cold start is a fresh JVM (this launcher's Java, class path and options): the kernel with none, "
                    + "half and all of the distribution's bundles, started one thing after another (as before) and side "
                    + "by side (the default), alternating; prints the medians, the cost of each bundle and built-in "
                    + "module, then times bundle updates in this process."})
    static final class KernelBench implements Callable<Integer> {
        @Option(names = "--swaps", description = "bundle updates to time (default 20)")
        int swaps = 20;

        @Option(names = "--loss", description = "loss key whose bundle is updated (default kd.forward-kl)")
        String key = "kd.forward-kl";

        @Option(names = "--runs", description = "cold starts per configuration (default 5)")
        int runs = 5;

        @Option(names = "--child", hidden = true, description = "internal: one cold start, serial or parallel")
        String child;

        @Option(names = "--bundle-dir", hidden = true, description = "internal: the child's bundle folder")
        Path bundleDir;

        @Override
        public Integer call() throws Exception {
            if (child != null) {
                return KernelStartBench.child(child, bundleDir);
            }
            if (runs < 1 || swaps < 1) {
                throw new ExperimentException(List.of("bench kernel: --runs and --swaps must be at least 1"));
            }
            KernelStartBench.coldStarts(System.out, Home.get(), runs);
            try (Kernel kernel = Distill.boot("cpu")) {
                System.out.printf(Locale.ROOT, "%nhot swap, in this process (kernel ready in %.0f ms with %d bundles):%n",
                        kernel.readyNanos() / 1e6, kernel.bundles().size());
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

        @Option(names = "--part", description = "step (FLOP/s of a training step), teacher (teacher precision: "
                + "resident bytes and logits error of float16 against float32) or all (default)")
        String part = "all";

        @Option(names = "--teacher", description = "trained teacher of the precision part (default: the embedded "
                + "teacher; its inputs are the suite's test records)")
        Path teacher;

        @Option(names = "--teacher-repeats", description = "timed teacher forwards per precision (default 5)")
        int teacherRepeats = 5;

        @Option(names = "--vlm", description = {"a LLaVA model instead: a SigLIP-style tower (224 pixels in 16-pixel "
            + "patches: 196 image tokens, width 384, 6 layers, MLP 1536) and the language model above, each sequence "
            + "one image's tokens then text; the tower frozen, projector and language model trained."})
        boolean vlm;

        @Override
        public Integer call() throws Exception {
            if (!List.of("all", "step", "teacher").contains(part)) {
                throw new ExperimentException(List.of("bench forward: --part must be all, step or teacher (got \""
                        + part + "\")"));
            }
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
                if (!part.equals("teacher")) {
                    if (vlm) {
                        ForwardBench.runVlm(System.out, tensors, o, v);
                    } else {
                        ForwardBench.run(System.out, tensors, o);
                    }
                }
                if (!part.equals("step")) {
                    Path dir = teacher != null ? teacher : Home.get().resolve("config/models/teacher");
                    ModelCommand.requireModelDir(dir);
                    TeacherPrecisionBench.run(System.out, tensors, dir, suiteRows(dir, 8, 128), o,
                            Math.max(1, teacherRepeats));
                }
            }
            return ExitCodes.OK;
        }

        /** The suite's test records (prompt, then response), tokenised by the teacher, as {@code rows} rows of {@code seq}. */
        private static long[][] suiteRows(Path teacherDir, int rows, int seq) throws java.io.IOException {
            org.distillery.api.model.Tokenizer tok = new org.distillery.models.HfModelService().tokenizer(teacherDir);
            java.util.List<Long> stream = new ArrayList<>();
            for (org.distillery.api.data.Example e : new org.distillery.data.JsonlDataService()
                    .readJsonl(Home.get().resolve("config/data/suite/test.jsonl"))) {
                String text = e.prompt() != null ? e.prompt() + " " + e.response() : String.valueOf(e.text());
                for (int id : tok.encode(text + "\n")) {
                    stream.add((long) id);
                }
                if (stream.size() >= rows * seq) {
                    break;
                }
            }
            long[][] out = new long[rows][seq];
            for (int i = 0; i < rows * seq; i++) {
                out[i / seq][i % seq] = stream.get(i % stream.size());
            }
            return out;
        }
    }

    /** {@code distill bench loss}: measures the registry's {@code kd.forward-kl} through the kit's chunk probe. */
    @Command(name = "loss", mixinStandardHelpOptions = true,
            description = {"Peak native memory and step time of kd.forward-kl (vocab 32000, seq 512, batch 8, fp32): "
                + "forward only, chunked against unchunked; in training, from both models' final hidden states and "
                + "heads to the gradients, the fused output layer against materialised logits (goals: fused peak "
                + "<= 15% of unfused, step time <= 1.1x).", "Boots the kernel and measures the " + LossCommand.KEY
                + " that the installed bundles provide."})
    static final class LossCommand implements Callable<Integer> {
        static final String KEY = "kd.forward-kl";

        @Option(names = "--batch", description = "rows (default 8)")
        int batch = LossBench.Options.defaults().batch();

        @Option(names = "--seq", description = "positions per row (default 512)")
        int seq = LossBench.Options.defaults().seq();

        @Option(names = "--vocab", description = "vocabulary (default 32000)")
        int vocab = LossBench.Options.defaults().vocab();

        @Option(names = "--hidden", description = "the student's width (default 512)")
        int hidden = LossBench.Options.defaults().hidden();

        @Option(names = "--teacher-hidden", description = "the teacher's width (default 512)")
        int teacherHidden = LossBench.Options.defaults().teacherHidden();

        @Option(names = "--chunk-size", description = "the loss's chunk-size (default 64)")
        int chunkSize = LossBench.Options.defaults().chunkSize();

        @Option(names = "--repeats", description = "timed training steps of each path (default 3)")
        int repeats = LossBench.Options.defaults().repeats();

        @Override
        public Integer call() throws Exception {
            LossBench.Options o = new LossBench.Options(batch, seq, vocab, hidden, teacherHidden, chunkSize, repeats);
            checked("loss", o::check);
            try (Kernel kernel = Distill.boot("cpu")) {
                var found = kernel.registry().find(ContributionKind.LOSS, KEY, LossFactory.class);
                if (found.isEmpty()) {
                    System.err.println("error: no bundle provides " + KEY + " in this distribution; distill bench "
                            + "loss needs the kd-core bundle in bundles/ (see distill list bundles)");
                    return ExitCodes.FAILED;
                }
                System.out.println("loss: " + found.get().info().coordinates());
                try (NDManager manager = kernel.tensors().newRunScope("bench")) {
                    LossBench.run(System.out, manager, found.get(), o);
                }
                System.out.flush();
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench merge}: measures the registry's {@code merge.linear} against an in-memory merge. */
    @Command(name = "merge", mixinStandardHelpOptions = true,
            description = {"Peak resident memory of merging N random Llama-style models with the installed merge.linear "
                + "(tensor by tensor), over the size of one model, against loading all of them and merging in memory "
                + "in the same process.", "Defaults: hidden 768, 8 layers, vocab 32000, 3 models (about 425 MB each)."})
    static final class MergeCommand implements Callable<Integer> {
        static final String KEY = "merge.linear";

        @Option(names = "--hidden", description = "model width (default 768)")
        int hidden = 768;

        @Option(names = "--layers", description = "decoder layers (default 8)")
        int layers = 8;

        @Option(names = "--vocab", description = "vocabulary (default 32000)")
        int vocab = 32000;

        @Option(names = "--models", description = "models merged (default 3)")
        int models = 3;

        @Option(names = "--dir", description = "where the models are written and removed again (default: the temp folder)")
        Path dir = Path.of(System.getProperty("java.io.tmpdir"));

        @Override
        public Integer call() throws Exception {
            MergeBench.Options o = new MergeBench.Options(hidden, layers, vocab, models, dir);
            checked("merge", o::check);
            try (Kernel kernel = Distill.boot("cpu")) {
                var found = kernel.registry().find(ContributionKind.MERGER, KEY, MergerFactory.class);
                if (found.isEmpty()) {
                    System.err.println("error: no bundle provides " + KEY + " in this distribution; distill bench merge "
                            + "needs the surgery bundle in bundles/ (see distill list bundles)");
                    return ExitCodes.FAILED;
                }
                try (EvalResources resources = new EvalResources(kernel.tensors(), kernel.models(), kernel.data(), 0,
                        kernel.registry(), "bench")) {
                    MergeBench.run(System.out, resources, found.get(), o);
                }
                System.out.flush();
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench threads}. */
    @Command(name = "threads", mixinStandardHelpOptions = true,
            description = {"A training step's time with 1 PyTorch thread and with one per core available (what auto "
                + "picks), alone and with another process keeping every core busy.",
                "Run it with the cores free of other jobs: it starts its own competing process."})
    static final class ThreadsCommand implements Callable<Integer> {
        @Option(names = "--steps", description = "timed steps per configuration and round (default 5)")
        int steps = 5;

        @Option(names = "--rounds", description = "rounds over the configurations (default 3)")
        int rounds = 3;

        @Override
        public Integer call() throws Exception {
            if (steps < 1 || rounds < 1) {
                throw new ExperimentException(List.of("bench threads: --steps and --rounds must be at least 1"));
            }
            try (DjlTensorService tensors = DjlTensorService.start("cpu")) {
                ThreadBench.run(System.out, tensors, steps, rounds);
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench cache}. */
    @Command(name = "cache", mixinStandardHelpOptions = true,
            description = {"The teacher cache's formats on the same teacher and records: fp32 (the reference), fp16 "
                + "(format 1), q8 and q4 (format 2): bytes per token and per top-k entry, the error of the stored "
                + "log-probabilities against fp32, and the decode speed; then q8's and q4's bytes per entry for "
                + "larger vocabularies on synthetic rows."})
    static final class CacheCommand implements Callable<Integer> {
        @Option(names = "--teacher", description = "teacher model folder (default: the embedded teacher)")
        Path teacher;

        @Option(names = "--data", description = "JSONL records (default: the suite's training split)")
        Path data;

        @Option(names = "--records", description = "records used, from the start of the file (default 2000)")
        int records = 2000;

        @Option(names = "--k", description = "top entries per position (default 32)")
        int k = 32;

        @Option(names = "--max-length", description = "tokens per sequence (default 128)")
        int maxLength = 128;

        @Option(names = "--repeats", description = "decode passes per format, the best is printed (default 3)")
        int repeats = 3;

        @Override
        public Integer call() throws Exception {
            Path home = Home.get();
            Path teacherDir = teacher != null ? teacher : home.resolve("config/models/teacher");
            Path dataFile = data != null ? data : home.resolve("config/data/suite/train.jsonl");
            CacheBench.Options d = CacheBench.Options.defaults();
            CacheBench.Options o;
            try {
                o = new CacheBench.Options(k, maxLength, d.batchSize(), repeats, d.vocabularies());
            } catch (IllegalArgumentException e) {
                throw new ExperimentException(List.of("bench cache: " + e.getMessage()));
            }
            ModelCommand.requireModelDir(teacherDir);
            if (!Files.isRegularFile(dataFile) || records < 1) {
                throw new ExperimentException(List.of("bench cache: --data must be a JSONL file and --records at least 1 "
                        + "(got \"" + dataFile + "\", " + records + ")"));
            }
            java.util.List<org.distillery.api.data.Example> all = new org.distillery.data.JsonlDataService()
                    .readJsonl(dataFile);
            org.distillery.models.HfModelService models = new org.distillery.models.HfModelService();
            Path dir = Files.createTempDirectory("distill-bench-cache-");
            try (DjlTensorService tensors = DjlTensorService.start("cpu");
                 NDManager m = tensors.newRunScope("bench-cache");
                 org.distillery.api.model.LanguageModel model = models.load(teacherDir,
                         ai.djl.ndarray.types.DataType.FLOAT32, m)) {
                System.out.println(tensors.threads().describe());
                CacheBench.run(System.out, model, TeacherIdentity.of(teacherDir), models.tokenizer(teacherDir),
                        all.subList(0, Math.min(records, all.size())), dataFile, dir, o, m);
            } finally {
                Files.deleteIfExists(dir);
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill bench overhead}: a train.kd step against a raw DJL loop of the same work. */
    @Command(name = "overhead", mixinStandardHelpOptions = true,
            description = {"Framework overhead: steps of a real train.kd run (registry lookups, hot-swap check, "
                + "sampler, events, step scopes) against a raw DJL loop over the same model, teacher and loss "
                + "(kd.forward-kl), interleaved in the same process; median of paired step ratios (goal <= 3%).",
                "Defaults: student GPT-2 256 wide x 4 layers, teacher 384 x 6, byte vocabulary, batch 8 x 256 "
                + "tokens, 40 paired steps after 5 of warm-up. Writes its data, teacher and run into a temporary "
                + "folder, deleted at the end."})
    static final class OverheadCommand implements Callable<Integer> {
        @Option(names = "--steps", description = "paired steps measured (default 40)")
        int steps = OverheadBench.Options.defaults().steps();

        @Option(names = "--warmup", description = "paired steps not measured first (default 5)")
        int warmup = OverheadBench.Options.defaults().warmup();

        @Option(names = "--batch", description = "rows per step (default 8)")
        int batch = OverheadBench.Options.defaults().batch();

        @Option(names = "--seq", description = "tokens per row (default 256)")
        int seq = OverheadBench.Options.defaults().seq();

        @Option(names = "--hidden", description = "student width, a multiple of 64 (default 256)")
        int hidden = OverheadBench.Options.defaults().hidden();

        @Option(names = "--layers", description = "student layers (default 4)")
        int layers = OverheadBench.Options.defaults().layers();

        @Option(names = "--teacher-hidden", description = "teacher width, a multiple of 64 (default 384)")
        int teacherHidden = OverheadBench.Options.defaults().teacherHidden();

        @Option(names = "--teacher-layers", description = "teacher layers (default 6)")
        int teacherLayers = OverheadBench.Options.defaults().teacherLayers();

        @Override
        public Integer call() throws Exception {
            OverheadBench.Options o = new OverheadBench.Options(steps, warmup, batch, seq, hidden, layers,
                    teacherHidden, teacherLayers);
            checked("overhead", o::check);
            Path dir = Files.createTempDirectory("distill-bench-overhead");
            try (Kernel kernel = Distill.boot("cpu")) {
                Path experiment;
                try (NDManager manager = kernel.tensors().newRunScope("bench-overhead-setup")) {
                    experiment = OverheadBench.prepare(dir, kernel.models(), manager, o);
                }
                OverheadBench.run(System.out, kernel, Distill.load(experiment.toString(), List.of()), o);
                System.out.flush();
            } finally {
                org.distillery.kit.io.AtomicFiles.deleteTree(dir);
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
