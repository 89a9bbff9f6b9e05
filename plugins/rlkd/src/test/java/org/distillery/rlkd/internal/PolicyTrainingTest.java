package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
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
 * The policy samplers inside {@code train.kd} on tiny models: what {@code rl.grpo} stores (old and
 * teacher log-probabilities, group advantages, KDRL's per-token weights with reward-guided masking),
 * that GRPO + KDRL and LLMR train with finite, separately logged terms and per-step figures, and that a
 * run resumed from a checkpoint in the middle of a round ends with the weights of an uninterrupted run
 * (the buffer, and for LLMR the lagged sampling copy, are in the checkpoint).
 */
class PolicyTrainingTest {

    /** A test reward: correct (1) when the response has an even number of tokens, else wrong (0). */
    static final String EVEN = "test.even-length";

    private static Path setUp(Path dir) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        StringBuilder train = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            train.append("{\"prompt\": \"").append(i).append(" + 1 = ?\", \"response\": \"<answer>").append(i + 1)
                    .append("</answer>\", \"meta\": {\"answer\": \"").append(i + 1).append("\"}}\n");
        }
        Files.writeString(data.resolve("train.jsonl"), train);
        return data;
    }

    private static TestRun run(Path dir, Path data, String train) throws Exception {
        Path teacher = dir.getParent().resolve("teacher");
        Config experiment = TestRun.experiment("""
                experiment.seed = 7
                data.train-file = "%s"
                tokenizer.dir = "%s"
                teacher { key = teacher.local, params { model-dir = "%s" } }
                student { inherit-teacher-config = true }
                train {
                  batch-size = 2
                  max-length = 32
                  lr = 1e-2
                  schedule = constant
                  checkpoint-every = 3
                  keep-checkpoints = 5
                  %s
                }
                """.formatted(data.resolve("train.jsonl"), teacher, teacher, train));
        TestRun run = new TestRun(Files.createDirectories(dir), experiment);
        run.register(ContributionKind.REWARD, EVEN, new RewardFactory() {
            @Override
            public String description() {
                return "even length";
            }

            @Override
            public Reward create(RewardContext context, Config params) {
                return (completions, manager) -> completions.stream()
                        .map(c -> RewardValue.checked(c.responseIds().length % 2 == 0 ? 1 : 0,
                                c.responseIds().length % 2 == 0)).toList();
            }
        }, ConfigFactory.empty());
        if (!Files.exists(teacher.resolve("model.safetensors"))) {
            run.writeTinyModel(teacher, 5);
        }
        return run;
    }

    private static final String GRPO = """
            steps = 10
            loss = [
              { key = rl.grpo }
              { key = rl.kl, params { reference = teacher, estimator = k2 } }
              { key = rl.kl, weight = 0.1, params { reference = initial, estimator = k3 } }
            ]
            sampler { key = rl.grpo, params { prompts-per-round = 2, group-size = 2, ppo-epochs = 2, max-new-tokens = 6,
                      max-prompt-length = 14, reference = initial,
                      rewards = [ { key = test.even-length }, { key = reward.format, weight = 0.1 } ],
                      teacher-kl { beta = 0.05, beta-end = 0.01, anneal-rounds = 2, reward-guided = true } } }
            """;

    private static final String LLMR = """
            steps = 10
            loss = [ { key = rl.grpo }, { key = rl.entropy, weight = 0.01 } ]
            sampler { key = rl.llmr, params { prompts-per-round = 4, sync-every = 2, max-new-tokens = 6,
                      max-prompt-length = 14 } }
            """;

    @Test
    void grpoStoresLogProbabilitiesGroupAdvantagesAndMaskedTeacherWeights(@TempDir Path dir) throws Exception {
        Path data = setUp(dir);
        try (TestRun run = run(dir.resolve("run"), data, GRPO);
             NDManager m = run.manager().newSubManager()) {
            Config train = run.config().getConfig("train");
            var c = run.registry().find(ContributionKind.TEACHER, "teacher.local", TeacherFactory.class).orElseThrow();
            try (Teacher teacher = c.factory().open(run.teacherContext(dir.resolve("teacher"), 32),
                    run.config().getConfig("teacher.params").withFallback(c.defaults()));
                 LanguageModel student = run.tinyModel(dir.resolve("student"), 9, m)) {
                Tokenizer tok = run.models().tokenizer(dir.resolve("teacher"));
                Sampler sampler = run.factory(ContributionKind.SAMPLER, GrpoSampler.KEY, SamplerFactory.class).create(
                        run.samplerContext(tok, student, teacher, 2, 32),
                        train.getConfig("sampler.params").withFallback(run.defaults(ContributionKind.SAMPLER,
                                GrpoSampler.KEY)));
                TokenBatch b = sampler.next(m);
                assertEquals("0:0:2", sampler.position());
                RolloutBuffer buffer = ((GrpoSampler) sampler).buffer();
                List<Rollout> rollouts = buffer.rollouts();
                assertEquals(4, rollouts.size(), "2 prompts x 2 samples");
                for (int g = 0; g < 4; g += 2) {
                    Rollout a = rollouts.get(g);
                    Rollout z = rollouts.get(g + 1);
                    assertEquals(a.promptLength(), z.promptLength());
                    float ra = a.value(PolicySampler.REWARD)[0];
                    float rz = z.value(PolicySampler.REWARD)[0];
                    float[] adv = PolicyMath.groupAdvantages(new double[] {ra, rz}, true, 1e-4);
                    assertEquals(adv[0], a.value(PolicySampler.ADVANTAGES)[0], 1e-6f);
                    assertEquals(adv[1], z.value(PolicySampler.ADVANTAGES)[0], 1e-6f);
                }
                for (Rollout r : rollouts) {
                    float correct = r.value(PolicySampler.CORRECT)[0];
                    assertEquals(r.responseLength() % 2 == 0 ? 1f : 0f, correct);
                    float w = r.value(GrpoSampler.TEACHER_KL_WEIGHT)[0];
                    assertEquals(correct == 1f ? 0f : 0.05f, w, 1e-7f, "reward-guided: no KD on correct responses");
                }
                // the stored values are the student's, the teacher's and the initial student's own log-probabilities
                NDArray sq = student.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits();
                sq.attach(m);
                float[] logQ = sq.logSoftmax(-1).toFloatArray();
                float[] logP = teacher.score(b, false, m).logits().logSoftmax(-1).toFloatArray();
                float[] old = b.extra(PolicySampler.OLD_LOGPROBS).toFloatArray();
                float[] tlp = b.extra(PolicySampler.TEACHER_LOGPROBS).toFloatArray();
                float[] ref = b.extra(GrpoSampler.REFERENCE_LOGPROBS).toFloatArray();
                float[] mask = b.lossMask().toFloatArray();
                long[] targets = b.targets().toLongArray();
                int counted = 0;
                for (int i = 0; i < mask.length; i++) {
                    if (mask[i] == 0) {
                        continue;
                    }
                    counted++;
                    assertEquals(logQ[i * 259 + (int) targets[i]], old[i], 1e-4f, "log pi_old at " + i);
                    assertEquals(logQ[i * 259 + (int) targets[i]], ref[i], 1e-4f, "log pi_ref at " + i);
                    assertEquals(logP[i * 259 + (int) targets[i]], tlp[i], 1e-4f, "log p_teacher at " + i);
                }
                assertEquals(b.lossTokens(), counted);
                Map<String, Double> figures = sampler.figures();
                assertTrue(figures.keySet().containsAll(List.of("reward", "accuracy", "response-length", "teacher-kl")),
                        figures.toString());
                assertTrue(sampler.figures().isEmpty(), "figures are drained per step");
                // 4 rollouts, 2 per batch, 2 epochs: the next round after 4 batches
                for (int i = 0; i < 3; i++) {
                    sampler.next(m);
                }
                assertEquals("1:0:0", sampler.position());
                sampler.next(m);
                assertEquals(1, ((GrpoSampler) sampler).buffer().round());
                List<Map<String, Object>> rounds = run.events.stream().filter(e -> "rl-rollout".equals(e.get("type")))
                        .toList();
                assertEquals(2, rounds.size());
                assertEquals(0.05, ((Number) rounds.get(0).get("beta")).doubleValue(), 1e-12);
                assertEquals(0.03, ((Number) rounds.get(1).get("beta")).doubleValue(), 1e-12, "annealed over 2 rounds");
            }
        }
    }

    @Test
    void grpoWithKdrlResumesMidRoundToTheWeightsOfAnUninterruptedRun(@TempDir Path dir) throws Exception {
        resumesExactly(dir, GRPO, "1:0:2", List.of("0:rl.grpo", "1:rl.kl", "2:rl.kl"));
    }

    @Test
    void llmrResumesMidRoundWithItsLaggedCopyToTheWeightsOfAnUninterruptedRun(@TempDir Path dir) throws Exception {
        resumesExactly(dir, LLMR, "2:0:2", List.of("0:rl.grpo", "1:rl.entropy"));
        List<String> files = new ArrayList<>();
        try (var s = Files.list(dir.resolve("resumed/stages/rl/checkpoints/step-00000005/sampler"))) {
            s.forEach(p -> files.add(p.getFileName().toString()));
        }
        assertTrue(files.contains("lagged-copy") && files.contains(RolloutBuffer.FILE), files.toString());
    }

    private static void resumesExactly(Path dir, String train, String midRound, List<String> terms) throws Exception {
        Path data = setUp(dir);
        Path straight;
        try (TestRun run = run(dir.resolve("straight"), data, train)) {
            StageResult r = new KdTrainer().run(run, KdStage.named("rl"));
            assertEquals(10, r.stepsDone());
            straight = r.model();
            for (Map<String, Object> s : run.steps()) {
                @SuppressWarnings("unchecked")
                Map<String, Object> t = (Map<String, Object>) s.get("terms");
                assertEquals(terms, new ArrayList<>(t.keySet()), "every loss term logged separately");
                t.values().forEach(v -> assertTrue(Double.isFinite(((Number) v).doubleValue()), t.toString()));
                @SuppressWarnings("unchecked")
                Map<String, Object> f = (Map<String, Object>) s.get("sampler");
                assertTrue(f != null && f.containsKey("reward") && f.containsKey("response-length")
                        && f.containsKey("teacher-kl") && f.containsKey("accuracy"), s.toString());
            }
        }
        try (TestRun run = run(dir.resolve("resumed"), data, train)) {
            run.stopAfterSteps = 5;
            assertTrue(new KdTrainer().run(run, KdStage.named("rl")).stopped());
        }
        Path ckpt = dir.resolve("resumed/stages/rl/checkpoints/step-00000005");
        assertTrue(Files.exists(ckpt.resolve("sampler").resolve(RolloutBuffer.FILE)), "the buffer is checkpointed");
        assertTrue(Files.readString(ckpt.resolve("state.json")).contains("\"" + midRound + "\""),
                Files.readString(ckpt.resolve("state.json")));
        Path resumed;
        try (TestRun run = run(dir.resolve("resumed"), data, train)) {
            resumed = new KdTrainer().run(run, KdStage.named("rl")).model();
            assertTrue(run.events.stream().anyMatch(e -> "resumed".equals(e.get("type"))));
        }
        try (TestRun run = TestRun.bare(); NDManager m = run.manager().newSubManager();
             LanguageModel a = run.models().load(straight, DataType.FLOAT32, m);
             LanguageModel b = run.models().load(resumed, DataType.FLOAT32, m)) {
            Map<String, NDArray> pa = new TreeMap<>(a.parameters());
            for (Map.Entry<String, NDArray> e : pa.entrySet()) {
                float[] x = e.getValue().toFloatArray();
                float[] y = b.parameters().get(e.getKey()).toFloatArray();
                for (int i = 0; i < x.length; i++) {
                    assertEquals(x[i], y[i], 1e-6f, e.getKey() + "[" + i + "]");
                }
            }
        }
    }
}
