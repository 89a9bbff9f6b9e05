package org.distillery.kernel.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.google.gson.Gson;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionKind;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Logits;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.ModelService;
import org.distillery.api.model.OutputHead;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.run.Run;
import org.distillery.kernel.run.RunManager;
import org.distillery.kit.data.Records;
import org.distillery.kit.optim.AdamW;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;

/**
 * {@code distill bench overhead}: what the framework adds to a training step. A real {@code train.kd}
 * run (the kernel's run manager, registry, event log, sampler, step scopes, loss lookup and hot-swap
 * check at every step) and a raw DJL loop over the same model, teacher, loss and batch shape run in
 * the same process, their steps interleaved: each time the run logs a step, the raw loop does one
 * step of its own, so step i of the run and step i of the raw loop see the same machine state.
 *
 * <p>The raw loop is what a researcher writes by hand: a batch from pre-encoded records, the teacher's
 * inference pass, the student's training pass, the same loss object's {@code compute} (kd-core's
 * {@code kd.forward-kl} from the registry, fused output layer as the run uses it), backward, the
 * gradient norm and clipping, AdamW, zeroing gradients; one sub-manager per step. The run's step is
 * timed from the end of the previous raw step to the moment it logs (everything of its loop
 * iteration: swap requests, loss resolution, stop check, sampling, the step, its figures, the event
 * line written and flushed).
 *
 * <p>Every record is longer than the maximum length, so every batch has the same shape on both sides.
 * The figure is the median over paired steps (after the warm-up) of run step / raw step.
 */
public final class OverheadBench {

    private static final Gson GSON = new Gson();
    private static final double GOAL = 0.03;

    /**
     * The shape of the benchmark.
     *
     * @param steps paired steps measured
     * @param warmup paired steps first, not measured
     * @param batch rows per step
     * @param seq positions per row
     * @param hidden the student's width (GPT-2, byte vocabulary)
     * @param layers the student's layers
     * @param teacherHidden the teacher's width
     * @param teacherLayers the teacher's layers
     */
    public record Options(int steps, int warmup, int batch, int seq, int hidden, int layers, int teacherHidden,
                          int teacherLayers) {

        /** 40 steps after 5 of warm-up; batch 8 of 256; student 256 wide, 4 layers; teacher 384 wide, 6 layers. */
        public static Options defaults() {
            return new Options(40, 5, 8, 256, 256, 4, 384, 6);
        }

        /** Fails naming the first value out of range. */
        public void check() {
            if (steps < 1 || warmup < 0 || batch < 1 || seq < 2 || hidden < 64 || layers < 1 || teacherHidden < 64
                    || teacherLayers < 1) {
                throw new IllegalArgumentException("steps, batch and layers must be at least 1, warmup at least 0, "
                        + "seq at least 2, widths at least 64 (got " + this + ")");
            }
            if (hidden % 64 != 0 || teacherHidden % 64 != 0) {
                throw new IllegalArgumentException("widths must be multiples of 64 (heads of width 64; got " + this + ")");
            }
        }
    }

    private OverheadBench() {
    }

    /**
     * Writes what the benchmark's run reads into {@code dir}: a dataset whose records all fill the
     * maximum length, a random GPT-2 teacher with the byte tokenizer, and the experiment file.
     *
     * @return the experiment file
     */
    public static Path prepare(Path dir, ModelService models, NDManager manager, Options o) throws IOException {
        Files.createDirectories(dir);
        StringBuilder data = new StringBuilder();
        String prompt = "p".repeat(Math.max(1, o.seq() / 4));
        String response = "abcdefghij".repeat(o.seq() / 5 + 2);
        for (int i = 0; i < 64; i++) {
            data.append(GSON.toJson(Map.of("id", "r" + i, "prompt", i + prompt, "response", response))).append('\n');
        }
        Files.writeString(dir.resolve("train.jsonl"), data);
        Path teacher = dir.resolve("teacher");
        try (NDManager m = manager.newSubManager();
             LanguageModel model = models.create(config(o.teacherHidden(), o.teacherLayers(), o.seq()), 11, m)) {
            models.save(model, teacher, DataType.FLOAT32);
        }
        new ByteTokenizer().save(teacher);
        String experiment = """
                experiment { name = bench-overhead, seed = 1, output-dir = "%s", progress = off, device = cpu }
                data.train-file = "%s"
                tokenizer.dir = "%s"
                teacher { key = teacher.local, params { model-dir = "%s" } }
                student { inherit-teacher-config = false, config = %s }
                method.key = kd.single
                train {
                  steps = %d, batch-size = %d, max-length = %d, lr = 1e-4, schedule = constant, eval-every = 0,
                  checkpoint-every = 0, loss = [ { key = kd.forward-kl } ], sampler { key = data.dataset }
                }
                """.formatted(dir.resolve("runs"), dir.resolve("train.jsonl"), teacher, teacher,
                GSON.toJson(ModelConfigs.toMap(config(o.hidden(), o.layers(), o.seq()))), o.warmup() + o.steps(),
                o.batch(), o.seq() + 1);
        Path file = dir.resolve("bench-overhead.conf");
        Files.writeString(file, experiment);
        return file;
    }

    /** A GPT-2 over the byte tokenizer without dropout (both sides compute the same function). */
    private static ModelConfig config(int hidden, int layers, int seq) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", 259L);
        raw.put("n_embd", (long) hidden);
        raw.put("n_layer", (long) layers);
        raw.put("n_head", (long) (hidden / 64));
        raw.put("n_positions", (long) Math.max(seq + 1, 64));
        raw.put("bos_token_id", 257L);
        raw.put("eos_token_id", 258L);
        raw.put("attn_pdrop", 0.0);
        raw.put("resid_pdrop", 0.0);
        raw.put("embd_pdrop", 0.0);
        return ModelConfigs.fromMap(raw);
    }

    /**
     * Runs the experiment {@code experiment} (from {@link #prepare}) through the kernel's run manager
     * with the raw loop interleaved, and prints the report.
     */
    public static void run(PrintStream out, Kernel kernel, Config experiment, Options o) throws Exception {
        RunManager runs = new RunManager(kernel);
        Run run = runs.create(runs.validate(experiment));
        Contribution<LossFactory> forwardKl = kernel.registry().find(ContributionKind.LOSS, "kd.forward-kl",
                LossFactory.class).orElseThrow(() -> new IllegalStateException("no bundle provides kd.forward-kl"));
        ModelService models = kernel.models();
        Path teacherDir = Path.of(experiment.getString("teacher.params.model-dir"));
        ModelConfig studentConfig = config(o.hidden(), o.layers(), o.seq());
        try (NDManager raw = kernel.tensors().newRunScope("bench-overhead-raw");
             LanguageModel teacher = models.load(teacherDir, DataType.FLOAT32, raw);
             LanguageModel student = models.create(studentConfig, 1, raw)) {
            RawLoop loop = new RawLoop(raw, student, teacher, forwardKl, models.tokenizer(teacherDir),
                    Path.of(experiment.getString("data.train-file")), o);
            List<double[]> pairs = new ArrayList<>();
            long[] lastEnd = {0};
            run.eventLog().listen(record -> {
                if (!"step".equals(record.get("type"))) {
                    if ("output-layer".equals(record.get("type"))) {
                        lastEnd[0] = 0;
                    }
                    return;
                }
                long now = System.nanoTime();
                double runStep = lastEnd[0] == 0 ? Double.NaN : (now - lastEnd[0]) / 1e9;
                double inStep = inStepSeconds(record.get("ms"));
                double rawStep = loop.step();
                pairs.add(new double[] {runStep, rawStep, inStep});
                lastEnd[0] = System.nanoTime();
            });
            out.printf(Locale.ROOT, "distill bench overhead: train.kd (kd.forward-kl, fused output layer) against a raw "
                    + "DJL loop, same process, steps interleaved%n");
            out.printf(Locale.ROOT, "  student GPT-2 %d wide x %d layers (%,d parameters), teacher %d x %d (%,d), batch "
                    + "%d x %d tokens, byte vocabulary (259); %d paired steps after %d of warm-up%n", o.hidden(),
                    o.layers(), count(student), o.teacherHidden(), o.teacherLayers(), count(teacher), o.batch(), o.seq(),
                    o.steps(), o.warmup());
            try (run) {
                RunManager.Outcome outcome = runs.execute(run);
                if (!outcome.completed()) {
                    throw new IllegalStateException("the benchmark's run did not complete: " + outcome.runDir());
                }
            }
            report(out, pairs.subList(Math.min(pairs.size(), o.warmup()), pairs.size()));
        }
    }

    /** The trainer's own timing of its step (data + forward-backward + optimizer), from the step's figures. */
    private static double inStepSeconds(Object ms) {
        double total = 0;
        if (ms instanceof Map<?, ?> parts) {
            for (Object v : parts.values()) {
                total += ((Number) v).doubleValue();
            }
        }
        return total / 1000;
    }

    private static long count(LanguageModel m) {
        long n = 0;
        for (NDArray p : m.parameters().values()) {
            n += p.getShape().size();
        }
        return n;
    }

    private static void report(PrintStream out, List<double[]> pairs) {
        List<Double> runSteps = new ArrayList<>();
        List<Double> rawSteps = new ArrayList<>();
        List<Double> inSteps = new ArrayList<>();
        List<Double> ratios = new ArrayList<>();
        for (double[] p : pairs) {
            if (Double.isNaN(p[0])) {
                continue;
            }
            runSteps.add(p[0]);
            rawSteps.add(p[1]);
            inSteps.add(p[2]);
            ratios.add(p[0] / p[1]);
        }
        if (ratios.isEmpty()) {
            out.println("  no paired steps were measured (steps must be at least 1 after the warm-up)");
            return;
        }
        double runMedian = median(runSteps);
        double rawMedian = median(rawSteps);
        out.printf(Locale.ROOT, "  train.kd step: median %.1f ms (min %.1f, max %.1f)%n", 1000 * runMedian,
                1000 * Collections.min(runSteps), 1000 * Collections.max(runSteps));
        out.printf(Locale.ROOT, "    of which the trainer's step() (data, forward-backward, optimizer): median %.1f ms%n",
                1000 * median(inSteps));
        out.printf(Locale.ROOT, "  raw DJL step:  median %.1f ms (min %.1f, max %.1f)%n", 1000 * rawMedian,
                1000 * Collections.min(rawSteps), 1000 * Collections.max(rawSteps));
        double overhead = median(ratios) - 1;
        out.printf(Locale.ROOT, "  overhead: median of %d paired ratios %+.2f%% (difference of medians %+.1f ms); "
                + "goal <= %.0f%%: %s%n", ratios.size(), 100 * overhead, 1000 * (runMedian - rawMedian), 100 * GOAL,
                overhead <= GOAL ? "met" : "NOT met");
    }

    private static double median(List<Double> values) {
        List<Double> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int n = sorted.size();
        return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    }

    /** The hand-written loop: no registry, no events, no sampler, no run; the same work otherwise. */
    private static final class RawLoop {
        private final NDManager manager;
        private final LanguageModel student;
        private final LanguageModel teacher;
        private final OutputHead studentHead;
        private final OutputHead teacherHead;
        private final Loss loss;
        private final AdamW optimizer;
        private final Map<String, NDArray> params;
        private final List<Records.Encoded> records = new ArrayList<>();
        private final int padId;
        private final int batch;
        private int next;

        RawLoop(NDManager manager, LanguageModel student, LanguageModel teacher, Contribution<LossFactory> loss,
                Tokenizer tokenizer, Path data, Options o) throws IOException {
            this.manager = manager;
            this.student = student;
            this.teacher = teacher;
            this.studentHead = student.outputHead().orElseThrow();
            this.teacherHead = teacher.outputHead().orElseThrow();
            this.loss = loss.factory().create(new LossContext(manager, 1, null, student.config(), teacher.config(),
                    "bench"), ConfigFactory.empty().withFallback(loss.defaults()));
            this.params = student.parameters();
            params.values().forEach(p -> p.setRequiresGradient(true));
            this.optimizer = new AdamW(params, 0.9f, 0.999f, 1e-8f, 0f, manager);
            for (String line : Files.readAllLines(data)) {
                @SuppressWarnings("unchecked")
                Map<String, Object> r = GSON.fromJson(line, Map.class);
                Example e = Example.pair((String) r.get("id"), (String) r.get("prompt"), (String) r.get("response"),
                        Map.of());
                records.add(Records.encode(e, tokenizer, o.seq() + 1));
            }
            this.padId = tokenizer.padId();
            this.batch = o.batch();
        }

        /** One training step; returns its wall time in seconds. */
        double step() {
            long t0 = System.nanoTime();
            try (NDManager step = manager.newSubManager()) {
                List<Records.Encoded> rows = new ArrayList<>(batch);
                for (int i = 0; i < batch; i++) {
                    rows.add(records.get(next++ % records.size()));
                }
                TokenBatch b = Records.batch(rows, padId, step);
                ModelOutput t = teacher.forward(b.inputIds(),
                        ForwardOptions.inference().withMask(b.attentionMask()).withoutHead());
                t.finalHidden().attach(step);
                TeacherOutput tout = new TeacherOutput(Logits.fused(t.finalHidden(), teacherHead), List.of());
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    ModelOutput s = student.forward(b.inputIds(),
                            ForwardOptions.train().withMask(b.attentionMask()).withoutHead());
                    LossValue v = loss.compute(new LossInput(b, Logits.fused(s.finalHidden(), studentHead), List.of(),
                            tout, List.of(), step, gc));
                    gc.backward(v.sum().div(step.create((float) Math.max(1, v.count()))));
                }
                double norm = AdamW.gradientNorm(params, step);
                optimizer.step(1e-4, norm > 1.0 ? 1.0 / (norm + 1e-6) : 1.0);
                AdamW.zeroGradients(params, step);
            }
            return (System.nanoTime() - t0) / 1e9;
        }
    }
}
