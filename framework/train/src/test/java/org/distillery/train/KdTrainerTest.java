package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KdTrainerTest {

    private static final CrossEntropy LOSS = new CrossEntropy();
    private static String DROPOUT = "0.1";

    private static String experiment(Path data, long steps) {
        return experiment(data, steps, 4, 1, 0);
    }

    private static String experiment(Path data, long steps, int batch, int accum, long checkpointEvery) {
        return """
                experiment.seed = 7
                data.train-file = "%s"
                teacher.key = ""
                tokenizer.dir = "%s"
                student {
                  inherit-teacher-config = false
                  config { model_type = gpt2, vocab_size = 259, n_embd = 32, n_layer = 1, n_head = 2, n_positions = 64,
                           bos_token_id = 257, eos_token_id = 258, resid_pdrop = %s, embd_pdrop = %s, attn_pdrop = %s }
                }
                train {
                  steps = %d
                  batch-size = %d
                  grad-accum = %d
                  checkpoint-every = %d
                  max-length = 32
                  lr = 1e-3
                  loss = [ { key = test.ce, weight = 1.0, params {} } ]
                }
                """.formatted(data, data.getParent().resolve("tok"), DROPOUT, DROPOUT, DROPOUT, steps, batch, accum,
                checkpointEvery);
    }

    private static TestRun run(Path dir, long steps) throws Exception {
        return run(dir, steps, 4, 1, 0);
    }

    private static TestRun run(Path dir, long steps, int batch, int accum, long checkpointEvery) throws Exception {
        Path data = TestRun.writeData(Files.createDirectories(dir.resolve("data")), 64);
        new org.distillery.models.tokenizer.ByteTokenizer().save(Files.createDirectories(dir.resolve("data/tok")));
        TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")),
                TestRun.experiment(experiment(data, steps, batch, accum, checkpointEvery)));
        run.register(ContributionKind.LOSS, "test.ce", LOSS, ConfigFactory.empty());
        return run;
    }

    private static StageResult train(TestRun run) throws Exception {
        return new KdTrainer().run(run, KdStage.named("distill"));
    }

    @Test
    void nativeMemoryIsFlatOverFiveHundredStepScopedSteps(@TempDir Path dir) throws Exception {
        try (TestRun run = run(dir, 500)) {
            LOSS.managers.clear();
            StageResult r = train(run);
            assertEquals(500, r.stepsDone());
            assertEquals(500, LOSS.managers.stream().distinct().count(), "a fresh manager every step");
            for (var m : LOSS.managers) {
                assertEquals("step", m.getName());
                assertEquals(run.manager(), m.getParentManager(), "step scopes are children of the run scope");
                assertTrue(!m.isOpen(), "closed after its step");
            }
            List<Map<String, Object>> steps = run.steps();
            assertEquals(500, steps.size());
            // Arrays alive between steps: weights, moments, nothing of any step. Exactly flat.
            assertEquals(run.tensorBytes.get(100L), run.tensorBytes.get(500L), "live arrays: " + run.tensorBytes);
            // The whole process's malloc use (printed, not asserted) also moves with the JVM's JIT
            // arenas and the engine's per-shape caches, by several MB either way between samples.
            System.out.println("process native bytes (after GC) by step: " + run.settledNative);
            double first = ((Number) steps.get(0).get("loss")).doubleValue();
            double last = ((Number) steps.get(499).get("loss")).doubleValue();
            assertTrue(last < first, "training lowers the loss: " + first + " -> " + last);
        }
    }

    private static Map<String, float[]> weights(Path modelDir) throws Exception {
        Map<String, float[]> out = new java.util.TreeMap<>();
        try (var tensors = org.distillery.tensor.DjlTensorService.start("cpu");
             var m = tensors.newRunScope("read");
             var model = new org.distillery.models.HfModelService().load(modelDir, ai.djl.ndarray.types.DataType.FLOAT32, m)) {
            model.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        }
        return out;
    }

    private static double maxAbsDiff(Map<String, float[]> a, Map<String, float[]> b) {
        assertEquals(a.keySet(), b.keySet());
        double max = 0;
        for (String k : a.keySet()) {
            float[] x = a.get(k);
            float[] y = b.get(k);
            for (int i = 0; i < x.length; i++) {
                max = Math.max(max, Math.abs(x[i] - y[i]));
            }
        }
        return max;
    }

    @Test
    void accumulatingFourMicroBatchesEqualsOneBigBatch(@TempDir Path dir) throws Exception {
        DROPOUT = "0.0";
        try {
            Path big;
            Path small;
            try (TestRun run = run(dir.resolve("big"), 5, 4, 1, 0)) {
                big = train(run).model();
            }
            try (TestRun run = run(dir.resolve("accum"), 5, 1, 4, 0)) {
                small = train(run).model();
            }
            double diff = maxAbsDiff(weights(big), weights(small));
            assertTrue(diff < 1e-5, "weights after 5 steps differ by " + diff);
        } finally {
            DROPOUT = "0.1";
        }
    }

    @Test
    void resumedRunEndsWithTheSameWeightsAsAnUninterruptedOne(@TempDir Path dir) throws Exception {
        Path straight;
        try (TestRun run = run(dir.resolve("straight"), 20, 4, 1, 5)) {
            straight = train(run).model();
        }
        try (TestRun run = run(dir.resolve("resumed"), 20, 4, 1, 5)) {
            run.stopAfterSteps = 12;
            StageResult first = train(run);
            assertTrue(first.stopped());
            assertEquals(12, first.stepsDone());
        }
        Path resumed;
        try (TestRun run = run(dir.resolve("resumed"), 20, 4, 1, 5)) {
            resumed = train(run).model();
            assertTrue(run.events.stream().anyMatch(e -> "resumed".equals(e.get("type"))), run.events.toString());
        }
        assertEquals(0.0, maxAbsDiff(weights(straight), weights(resumed)), "resume must be exact in deterministic mode");
    }

    @Test
    void lossesReadTheStepClockAndAResumedRunContinuesIt(@TempDir Path dir) throws Exception {
        CrossEntropy clocked = new CrossEntropy();
        try (TestRun run = run(dir, 8, 4, 2, 3)) {
            run.register(ContributionKind.LOSS, "test.ce", clocked, ConfigFactory.empty());
            run.stopAfterSteps = 5;
            assertTrue(train(run).stopped());
        }
        try (TestRun run = run(dir, 8, 4, 2, 3)) {
            run.register(ContributionKind.LOSS, "test.ce", clocked, ConfigFactory.empty());
            train(run);
        }
        // two micro-batches per step; the stopped run checkpointed at step 5 and the resumed one went on from there
        List<String> seen = clocked.clock.stream().map(c -> c[0] + "/" + c[1]).toList();
        assertEquals(List.of("0/8", "0/8", "1/8", "1/8", "2/8", "2/8", "3/8", "3/8", "4/8", "4/8",
                "5/8", "5/8", "6/8", "6/8", "7/8", "7/8"), seen);
    }

    @Test
    void theDatasetSamplerKeepsOnlyTheTasksItIsGiven(@TempDir Path dir) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data")).resolve("train.jsonl");
        Files.writeString(data, """
                {"prompt": "1 + 1?", "response": "2", "meta": {"task": "arith"}}
                {"prompt": "capital?", "response": "x", "meta": {"task": "fact"}}
                {"prompt": "2 + 2?", "response": "4", "meta": {"task": "arith"}}
                """);
        new org.distillery.models.tokenizer.ByteTokenizer().save(Files.createDirectories(dir.resolve("data/tok")));
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")),
                TestRun.experiment(experiment(data, 1)))) {
            var tok = run.models().tokenizer(dir.resolve("data/tok"));
            var factory = new DatasetSampler.Factory();
            var ctx = new org.distillery.api.sampler.SamplerContext(run, run.datasets(), tok, null, null, 4, 32,
                    "train.sampler.params");
            try (var m = run.manager().newSubManager()) {
                var batch = factory.create(ctx, ConfigFactory.parseString("file = \"\", extra-files = [], shuffle = false, "
                        + "tasks = [arith], record-weight = \"\"")).next(m);
                String text = tok.decode(java.util.Arrays.stream(batch.inputIds().toLongArray()).mapToInt(x -> (int) x)
                        .toArray());
                assertTrue(text.contains("1 + 1?") && text.contains("2 + 2?") && !text.contains("capital"), text);
            }
            var none = org.junit.jupiter.api.Assertions.assertThrows(org.distillery.api.InvalidConfigException.class,
                    () -> factory.create(ctx, ConfigFactory.parseString("file = \"\", extra-files = [], shuffle = false, "
                            + "tasks = [yesno]")));
            assertEquals("train.sampler.params.tasks", none.path());
        }
    }

    @Test
    void bestCheckpointCanBeChosenByAnEvaluationMetric(@TempDir Path dir) throws Exception {
        Path data = TestRun.writeData(Files.createDirectories(dir.resolve("data")), 64);
        new org.distillery.models.tokenizer.ByteTokenizer().save(Files.createDirectories(dir.resolve("data/tok")));
        String conf = experiment(data, 10, 4, 1, 0) + """
                data.validation-file = "%s"
                train { eval-every = 5, eval-batches = 2, eval-max-new-tokens = 8,
                        select-metric = exact-match, select-metric-key = eval.exact-match }
                """.formatted(data);
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(conf))) {
            run.register(ContributionKind.LOSS, "test.ce", LOSS, ConfigFactory.empty());
            StageResult r = train(run);
            List<Map<String, Object>> evals = run.events.stream().filter(e -> "eval".equals(e.get("type"))).toList();
            assertEquals(2, evals.size(), evals.toString());
            for (Map<String, Object> e : evals) {
                assertEquals("exact-match", e.get("selected-by"));
                assertTrue(e.containsKey("val.exact-match") && e.containsKey("val.loss"), e.toString());
            }
            assertTrue(r.metrics().containsKey("val.exact-match"), r.metrics().toString());
            assertTrue(Files.exists(run.runDir().resolve("stages/distill/best/model.safetensors")));
        }
    }

    @Test
    void aSelectionFigureWithoutItsMetricIsRejected() {
        var c = com.typesafe.config.ConfigFactory.parseString("select-metric = rouge-l").withFallback(
                com.typesafe.config.ConfigFactory.parseFile(
                        Path.of("../kernel/src/main/resources/distillery-experiment.conf").toFile()).getConfig("train"));
        var e = org.junit.jupiter.api.Assertions.assertThrows(org.distillery.api.InvalidConfigException.class,
                () -> TrainSettings.of(c));
        assertTrue(e.getMessage().startsWith("train.select-metric: needs train.select-metric-key"), e.getMessage());
    }
}
