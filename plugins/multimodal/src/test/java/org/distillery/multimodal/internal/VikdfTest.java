package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code vikdf.recipe} on tiny models, in-process: the IQ-Former learns with the language model
 * frozen (iqformer, bvif), the language model learns in the zero-resource stage, the baseline
 * trains without queries, both are evaluated on text-only records, and a stage stopped midway
 * resumes from its checkpoint to the same weights.
 */
class VikdfTest {

    static Path textQa(Path dir, int n) throws Exception {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            String color = i % 2 == 0 ? "red" : "blue";
            sb.append("{\"id\": \"t").append(i).append("\", \"prompt\": \"Scene: a ").append(color)
                    .append(" half. What color?\", \"response\": \"").append(color)
                    .append("\", \"meta\": {\"task\": \"color\", \"label\": \"").append(color).append("\"}}\n");
        }
        Path f = dir.resolve("qa-text.jsonl");
        Files.writeString(f, sb);
        return f;
    }

    static Config params(TestRun run, Path data, Path teacher, Path lm, String extra) {
        return ConfigFactory.parseString("""
                vision-from = "%2$s"
                language-model = "%3$s"
                caption-file = "%1$s/captions.jsonl"
                instruction-file = "%1$s/qa-text.jsonl"
                test-file = "%1$s/qa-text.jsonl"
                iqformer { queries = 4, width = 16, layers = 1, heads = 2, max-text = 64 }
                pretrain { steps = 4, lr = 1e-2 }
                fusion { steps = 4, lr = 1e-2 }
                sft { steps = 4, lr = 1e-2 }
                batch-size = 4
                max-length = 64
                checkpoint-every = 2
                evaluate { max-new-tokens = 4 }
                %4$s
                """.formatted(data, teacher, lm, extra)).withFallback(run.defaults(ContributionKind.METHOD,
                VikdfMethod.KEY)).resolve();
    }

    static StageResult runStage(TestRun run, Stage s) throws Exception {
        StageResult r = new VikdfTrainer().run(run, s);
        return r;
    }

    @Test
    void stagesTrainTheirPartsAndTheStudentsAreEvaluated(@TempDir Path dir) throws Exception {
        Path data = TestRun.writeSuite(dir.resolve("data"), 8);
        textQa(data, 8);
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment("experiment.seed = 3"))) {
            Path teacher = dir.resolve("teacher");
            Path lm = dir.resolve("lm");
            run.writeModel(teacher, TestRun.TINY_LLAVA, 1);
            run.writeModel(lm, TestRun.TINY_LM, 2);
            List<Stage> stages = run.factory(ContributionKind.METHOD, VikdfMethod.KEY, MethodFactory.class)
                    .stages(params(run, data, teacher, lm, ""));
            assertEquals(List.of("vikdf.iqformer", "vikdf.bvif", "vikdf", "text-sft", "evaluate"),
                    stages.stream().map(Stage::name).toList());
            for (Stage s : stages) {
                StageResult r = runStage(run, s);
                assertFalse(r.stopped(), s.name());
            }
            Path stagesDir = run.runDir().resolve("stages");
            Map<String, float[]> base = RecipeTest.weights(lm);
            assertEquals(base.keySet(), RecipeTest.weights(stagesDir.resolve("vikdf.bvif/final")).keySet());
            for (String n : base.keySet()) {
                assertArrayEquals(base.get(n), RecipeTest.weights(stagesDir.resolve("vikdf.bvif/final")).get(n),
                        n + " frozen through iqformer and bvif");
            }
            assertFalse(java.util.Arrays.equals(base.get("model.embed_tokens.weight"),
                    RecipeTest.weights(stagesDir.resolve("vikdf/final")).get("model.embed_tokens.weight")),
                    "the language model learns in the zero-resource stage");
            assertTrue(IqFormer.present(stagesDir.resolve("vikdf/final")));
            assertFalse(IqFormer.present(stagesDir.resolve("text-sft/final")), "the baseline has no queries");
            List<Map<String, Object>> steps = run.events.stream().filter(e -> "step".equals(e.get("type"))).toList();
            @SuppressWarnings("unchecked")
            Map<String, Object> first = (Map<String, Object>) steps.get(0).get("terms");
            assertEquals(List.of("itc", "mim", "mlm"), List.copyOf(first.keySet()));
            @SuppressWarnings("unchecked")
            Map<String, Object> fusion = (Map<String, Object>) steps.get(4).get("terms");
            assertEquals(List.of("i2t", "t2i"), List.copyOf(fusion.keySet()));
            for (String student : List.of("vikdf", "text-sft")) {
                var o = JsonParser.parseString(Files.readString(run.runDir().resolve("eval/" + student + ".json")))
                        .getAsJsonObject();
                double acc = o.getAsJsonObject("metrics").get("accuracy").getAsDouble();
                assertTrue(acc >= 0 && acc <= 1, student + ": " + o);
            }
            String table = Files.readString(run.runDir().resolve("results.md"));
            assertTrue(table.contains("| vikdf |") && table.contains("| text-sft |") && table.contains("accuracy.color"),
                    table);
        }
    }

    @Test
    void aStoppedStageResumesFromItsCheckpointToTheSameWeights(@TempDir Path dir) throws Exception {
        Path data = TestRun.writeSuite(dir.resolve("data"), 8);
        textQa(data, 8);
        Path teacher = dir.resolve("teacher");
        Path lm = dir.resolve("lm");
        Path[] finals = new Path[2];
        for (int attempt = 0; attempt < 2; attempt++) {
            Path runDir = Files.createDirectories(dir.resolve("run" + attempt));
            try (TestRun run = new TestRun(runDir, TestRun.experiment("experiment.seed = 3"))) {
                if (attempt == 0) {
                    run.writeModel(teacher, TestRun.TINY_LLAVA, 1);
                    run.writeModel(lm, TestRun.TINY_LM, 2);
                }
                Stage first = run.factory(ContributionKind.METHOD, VikdfMethod.KEY, MethodFactory.class)
                        .stages(params(run, data, teacher, lm, "")).get(0);
                if (attempt == 1) {
                    run.stopAfterSteps = 2;
                    assertTrue(runStage(run, first).stopped());
                }
            }
            try (TestRun run = new TestRun(runDir, TestRun.experiment("experiment.seed = 3"))) {
                Stage first = run.factory(ContributionKind.METHOD, VikdfMethod.KEY, MethodFactory.class)
                        .stages(params(run, data, teacher, lm, "")).get(0);
                StageResult r = runStage(run, first);
                assertEquals(4, r.stepsDone());
                finals[attempt] = r.model();
                if (attempt == 1) {
                    assertTrue(run.events.stream().anyMatch(e -> "resumed".equals(e.get("type"))), "resumed");
                }
            }
        }
        try (NDManager m = NDManager.newBaseManager()) {
            IqFormer a = IqFormer.load(finals[0], m);
            IqFormer b = IqFormer.load(finals[1], m);
            for (String n : a.params.keySet()) {
                assertArrayEquals(a.params.get(n).toFloatArray(), b.params.get(n).toFloatArray(), 1e-6f, n);
            }
        }
    }

    @Test
    void missingInputsAreRejected(@TempDir Path dir) throws Exception {
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(""))) {
            var e = assertThrows(InvalidConfigException.class, () -> run.factory(ContributionKind.METHOD,
                    VikdfMethod.KEY, MethodFactory.class).stages(run.defaults(ContributionKind.METHOD, VikdfMethod.KEY)));
            assertTrue(e.getMessage().startsWith("method.params.vision-from: is required"), e.getMessage());
        }
    }
}
