package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageResult;
import org.distillery.kit.rollout.Rollout;
import org.distillery.kit.rollout.RolloutBuffer;
import org.distillery.train.KdTrainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code minillm.rollout} on tiny models: the stored values line up with the student's own
 * scoring, and a short {@code train.kd} stage with the three MiniLLM terms has finite losses
 * and resumes from a mid-buffer checkpoint to exactly the weights of an uninterrupted run.
 */
class RolloutTrainingTest {

    private static Path setUp(Path dir) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        StringBuilder train = new StringBuilder();
        StringBuilder corpus = new StringBuilder();
        for (int i = 0; i < 16; i++) {
            train.append("{\"prompt\": \"what is ").append(i).append(" plus 1?\", \"response\": \"").append(i + 1)
                    .append("\"}\n");
            corpus.append("{\"text\": \"").append(i).append(" plus 1 is ").append(i + 1).append(".\"}\n");
        }
        Files.writeString(data.resolve("train.jsonl"), train);
        Files.writeString(data.resolve("corpus.jsonl"), corpus);
        return data;
    }

    private static Config experiment(Path data, Path teacher, long steps) {
        return TestRun.experiment("""
                experiment.seed = 7
                data.train-file = "%s"
                tokenizer.dir = "%s"
                teacher { key = teacher.local, params { model-dir = "%s" } }
                student { inherit-teacher-config = true }
                train {
                  steps = %d
                  batch-size = 2
                  max-length = 24
                  lr = 1e-2
                  schedule = constant
                  checkpoint-every = 3
                  keep-checkpoints = 5
                  loss = [
                    { key = minillm.pg, weight = 1.0 }
                    { key = minillm.single-step, weight = 1.0 }
                    { key = minillm.pt, weight = 1.0 }
                  ]
                  sampler { key = minillm.rollout, params { rollout-size = 4, ppo-epochs = 2, max-new-tokens = 8,
                            max-prompt-length = 14, pt-file = "%s", pt-batch-size = 1 } }
                }
                """.formatted(data.resolve("train.jsonl"), teacher, teacher, steps, data.resolve("corpus.jsonl")));
    }

    private static TestRun run(Path dir, Path data, long steps) throws Exception {
        Path teacher = dir.getParent().resolve("teacher");
        TestRun run = new TestRun(Files.createDirectories(dir), experiment(data, teacher, steps));
        if (!Files.exists(teacher.resolve("model.safetensors"))) {
            run.writeTinyModel(teacher, 5);
        }
        return run;
    }

    private static StageResult train(TestRun run) throws Exception {
        return new KdTrainer().run(run, KdStage.named("minillm"));
    }

    @Test
    void storedValuesAreTheStudentsAndTeachersLogProbabilitiesOfTheSampledTokens(@TempDir Path dir) throws Exception {
        Path data = setUp(dir);
        try (TestRun run = run(dir.resolve("run"), data, 1);
             NDManager m = run.manager().newSubManager()) {
            Config train = run.config().getConfig("train");
            var c = run.registry().find(ContributionKind.TEACHER, "teacher.local", TeacherFactory.class).orElseThrow();
            try (Teacher teacher = c.factory().open(run.teacherContext(dir.resolve("teacher"), 24), run.config().getConfig("teacher.params").withFallback(c.defaults()));
                 LanguageModel student = run.tinyModel(dir.resolve("student"), 9, m)) {
                var tok = run.models().tokenizer(dir.resolve("teacher"));
                Sampler sampler = run.factory(ContributionKind.SAMPLER, RolloutSampler.KEY, SamplerFactory.class).create(
                        run.samplerContext(tok, student, teacher, 2, 24),
                        train.getConfig("sampler.params").withFallback(run.defaults(ContributionKind.SAMPLER,
                                RolloutSampler.KEY)));
                TokenBatch b = sampler.next(m);
                assertEquals("0:0:2:1", sampler.position());
                assertEquals(3, b.inputIds().getShape().get(0), "2 rollouts and 1 corpus row");
                RolloutBuffer buffer = ((RolloutSampler) sampler).buffer();
                assertEquals(4, buffer.rollouts().size());
                float[] old = b.extra(Extras.OLD_LOGPROBS).toFloatArray();
                float[] teacherLp = b.extra(Extras.TEACHER_LOGPROBS).toFloatArray();
                float[] mask = b.lossMask().toFloatArray();
                float[] pt = b.extra(Extras.PT_MASK).toFloatArray();
                long[] targets = b.targets().toLongArray();
                long[] inputs = b.inputIds().toLongArray();
                int len = (int) b.targets().getShape().get(1);
                NDArray sq = student.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits();
                sq.attach(m);
                float[] logQ = sq.logSoftmax(-1).toFloatArray();
                NDArray tl = teacher.score(b, false, m).logits();
                float[] logP = tl.logSoftmax(-1).toFloatArray();
                int v = 259;
                int counted = 0;
                for (int i = 0; i < 3 * len; i++) {
                    if (mask[i] == 0) {
                        assertEquals(0f, old[i]);
                        continue;
                    }
                    counted++;
                    assertTrue(i < 2 * len, "only rollout rows count");
                    assertEquals(logQ[i * v + (int) targets[i]], old[i], 1e-4f, "log q_old at " + i);
                    assertEquals(logP[i * v + (int) targets[i]], teacherLp[i], 1e-4f, "log p at " + i);
                }
                assertEquals(b.lossTokens(), counted);
                double ptTokens = 0;
                for (int i = 0; i < 3 * len; i++) {
                    ptTokens += pt[i];
                    assertTrue(pt[i] == 0 || i >= 2 * len, "pt-mask only on corpus rows");
                }
                assertTrue(ptTokens > 0);
                // the buffer keeps the raw returns; the batch carries its two rows' returns whitened
                // together (whiten-advantages = minibatch, LMOps)
                List<float[]> rowReturns = new ArrayList<>();
                for (int row = 0; row < 2; row++) {
                    Rollout match = null;
                    for (Rollout r : buffer.rollouts()) {
                        assertArrayEquals(RolloutMath.returns(r.value(Extras.REWARDS), 0.95, true, true),
                                r.value(Extras.ADVANTAGES), 1e-6f);
                        boolean same = true;
                        for (int t = 0; t < r.ids().length - 1; t++) {
                            same &= inputs[row * len + t] == r.ids()[t];
                        }
                        if (same && (match == null || r.ids().length > match.ids().length)) {
                            match = r;
                        }
                    }
                    assertNotNull(match, "row " + row + " is a buffer rollout");
                    rowReturns.add(match.value(Extras.ADVANTAGES));
                }
                List<float[]> whitened = RolloutMath.whitenPadded(rowReturns);
                float[] adv = b.extra(Extras.ADVANTAGES).toFloatArray();
                for (int row = 0; row < 2; row++) {
                    int k = 0;
                    for (int t = 0; t < len; t++) {
                        if (mask[row * len + t] > 0) {
                            assertEquals(whitened.get(row)[k++], adv[row * len + t], 1e-6f, "row " + row + " at " + t);
                        }
                    }
                    assertEquals(whitened.get(row).length, k);
                }
                // a new round only after ppo-epochs passes: 4 rollouts / 2 per batch x 2 epochs = 4 batches
                for (int i = 0; i < 3; i++) {
                    sampler.next(m);
                }
                assertEquals("1:0:0:4", sampler.position());
                assertEquals(0, ((RolloutSampler) sampler).buffer().round());
                sampler.next(m);
                assertEquals(1, ((RolloutSampler) sampler).buffer().round());
                assertEquals(2, run.events.stream().filter(e -> "minillm-rollout".equals(e.get("type"))).count());
            }
        }
    }

    @Test
    void resumedFromAMidBufferCheckpointEndsWithTheWeightsOfAnUninterruptedRun(@TempDir Path dir) throws Exception {
        Path data = setUp(dir);
        Path straight;
        try (TestRun run = run(dir.resolve("straight"), data, 10)) {
            StageResult r = train(run);
            assertEquals(10, r.stepsDone());
            straight = r.model();
            List<Map<String, Object>> steps = run.steps();
            for (Map<String, Object> s : steps) {
                assertTrue(Double.isFinite(((Number) s.get("loss")).doubleValue()), s.toString());
                @SuppressWarnings("unchecked")
                Map<String, Object> terms = (Map<String, Object>) s.get("terms");
                assertEquals(3, terms.size());
                terms.values().forEach(t -> assertTrue(Double.isFinite(((Number) t).doubleValue()), terms.toString()));
            }
            assertEquals(3, run.events.stream().filter(e -> "minillm-rollout".equals(e.get("type"))).count(),
                    "rounds at steps 0, 4 and 8");
        }
        try (TestRun run = run(dir.resolve("resumed"), data, 10)) {
            run.stopAfterSteps = 5;
            StageResult first = train(run);
            assertTrue(first.stopped());
            assertEquals(5, first.stepsDone());
        }
        Path ckpt = dir.resolve("resumed/stages/minillm/checkpoints/step-00000005");
        assertTrue(Files.exists(ckpt.resolve("sampler").resolve(RolloutBuffer.FILE)), "the buffer is checkpointed");
        assertTrue(Files.readString(ckpt.resolve("state.json")).contains("1:0:2:5"), "mid-buffer of round 1");
        Path resumed;
        try (TestRun run = run(dir.resolve("resumed"), data, 10)) {
            resumed = train(run).model();
            assertTrue(run.events.stream().anyMatch(e -> "resumed".equals(e.get("type"))));
            assertEquals(1, run.events.stream().filter(e -> "minillm-rollout".equals(e.get("type"))).count(),
                    "round 1 comes from the checkpoint; only round 2 is sampled");
        }
        Map<String, float[]> a = weights(straight);
        Map<String, float[]> b = weights(resumed);
        assertEquals(a.keySet(), b.keySet());
        for (String k : a.keySet()) {
            assertTrue(java.util.Arrays.equals(a.get(k), b.get(k)), "parameter " + k + " differs after resume");
        }
    }

    private static Map<String, float[]> weights(Path modelDir) throws Exception {
        Map<String, float[]> out = new TreeMap<>();
        try (var tensors = org.distillery.tensor.DjlTensorService.start("cpu");
             var m = tensors.newRunScope("read");
             var model = new org.distillery.models.HfModelService().load(modelDir, DataType.FLOAT32, m)) {
            model.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        }
        return out;
    }

    @Test
    void aSamplerWithoutAnInProcessTeacherIsAConfigError(@TempDir Path dir) throws Exception {
        Path data = setUp(dir);
        try (TestRun run = run(dir.resolve("run"), data, 1)) {
            var e = org.junit.jupiter.api.Assertions.assertThrows(org.distillery.api.InvalidConfigException.class,
                    () -> run.factory(ContributionKind.SAMPLER, RolloutSampler.KEY, SamplerFactory.class).create(
                            run.samplerContext(run.models().tokenizer(dir.resolve("teacher")), null, null, 2, 24),
                            run.defaults(ContributionKind.SAMPLER, RolloutSampler.KEY)));
            assertEquals("teacher.key", e.path());
            try (NDManager m = run.manager().newSubManager()) {
                var c = run.registry().find(ContributionKind.TEACHER, "teacher.local", TeacherFactory.class).orElseThrow();
                try (Teacher teacher = c.factory().open(run.teacherContext(dir.resolve("teacher"), 24), run.config().getConfig("teacher.params").withFallback(c.defaults()))) {
                    var bad = ConfigFactory.parseString("alpha = 1.5").withFallback(
                            run.defaults(ContributionKind.SAMPLER, RolloutSampler.KEY));
                    var e2 = org.junit.jupiter.api.Assertions.assertThrows(org.distillery.api.InvalidConfigException.class,
                            () -> run.factory(ContributionKind.SAMPLER, RolloutSampler.KEY, SamplerFactory.class).create(
                                    run.samplerContext(run.models().tokenizer(dir.resolve("teacher")),
                                            teacher.model().get(), teacher, 2, 24), bad));
                    assertEquals("train.sampler.params.alpha", e2.path());
                }
            }
        }
    }
}
