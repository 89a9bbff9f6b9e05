package org.distillery.rlkd.internal;

import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.model.LanguageModel;
import org.distillery.models.ModelConfigs;
import org.distillery.testkit.FusedParity;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Golden tests of the fused output layer for the RL and DPO losses: {@code rl.grpo}, {@code rl.kl}
 * (teacher and initial references, k1/k2/k3), {@code rl.entropy} and {@code dpo.sigmoid} give the
 * same value and gradients of every student parameter with the student's logits fused (final hidden
 * states and head, logits a chunk at a time) as with them materialised, through a real tiny GPT-2
 * (tied embeddings), on a rollout-shaped batch whose extras carry old, teacher and reference
 * log-probabilities, advantages, KL weights and, for DPO, the reference's row sums of (chosen,
 * rejected) pairs.
 *
 * <p>Tolerances: values within 1e-5·max(1, |v|); each gradient entry within 1e-4 of the largest
 * entry of its array.
 */
class FusedOutputLayerTest {

    private static final int B = 4;
    private static final int T = 9;
    private static final int V = 48;

    private static TestRun run;
    private static LanguageModel student;
    private static NDManager data;
    private static TokenBatch batch;
    private static TokenBatch pairs;

    @BeforeAll
    static void setUp() {
        run = TestRun.bare();
        Map<String, Object> raw = TestRunContext.gpt2Config(V, 16, 2, 2, 32);
        raw.put("initializer_range", 0.3);
        student = run.models().create(ModelConfigs.fromMap(raw), 5, run.manager());
        data = run.manager().newSubManager();
        batch = rolloutBatch(data, false);
        pairs = rolloutBatch(data, true);
    }

    @AfterAll
    static void tearDown() {
        data.close();
        student.close();
        run.close();
    }

    /**
     * Four rows: prompts of 2-3 tokens, responses to the row's end, the last row padded; with
     * {@code dpo}, two (chosen, rejected) pairs whose reference row sums are the extra of that name.
     */
    private static TokenBatch rolloutBatch(NDManager m, boolean dpo) {
        Random random = new Random(31);
        long[] ids = new long[B * T];
        long[] targets = new long[B * T];
        float[] attention = new float[B * T];
        float[] mask = new float[B * T];
        Map<String, float[]> tokens = new LinkedHashMap<>();
        for (String name : new String[] {PolicySampler.OLD_LOGPROBS, PolicySampler.TEACHER_LOGPROBS,
            GrpoSampler.REFERENCE_LOGPROBS, PolicySampler.ADVANTAGES, GrpoSampler.TEACHER_KL_WEIGHT}) {
            tokens.put(name, new float[B * T]);
        }
        int[] prompts = new int[B];
        for (int r = 0; r < B; r++) {
            int length = r == B - 1 ? T - 3 : T;
            prompts[r] = 2 + r % 2;
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                ids[i] = t < length ? random.nextInt(V) : 0;
                attention[i] = t < length ? 1 : 0;
            }
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                boolean response = t + 1 >= prompts[r] && t + 1 < length;
                targets[i] = t + 1 < length ? ids[i + 1] : 0;
                mask[i] = response ? 1 : 0;
                tokens.get(PolicySampler.OLD_LOGPROBS)[i] = response ? -1.5f - random.nextFloat() * 2 : 0;
                tokens.get(PolicySampler.TEACHER_LOGPROBS)[i] = response ? -1f - random.nextFloat() * 3 : 0;
                tokens.get(GrpoSampler.REFERENCE_LOGPROBS)[i] = response ? -2f - random.nextFloat() : 0;
                tokens.get(PolicySampler.ADVANTAGES)[i] = response ? (float) random.nextGaussian() : 0;
                tokens.get(GrpoSampler.TEACHER_KL_WEIGHT)[i] = response ? 0.1f : 0;
            }
        }
        Shape shape = new Shape(B, T);
        Map<String, NDArray> extras = new HashMap<>();
        tokens.forEach((k, v) -> extras.put(k, m.create(v, shape)));
        if (dpo) {
            // dpo.pairs' per-row reference sums share the name of rl.grpo's per-token reference
            extras.put(PairSampler.REFERENCE_LOGPROBS, m.create(new float[] {-20f, -23f, -18f, -17.5f}));
        }
        return new TokenBatch(m.create(ids, shape), m.create(attention, shape), m.create(targets, shape),
                m.create(mask, shape), m.create(prompts), extras);
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"rl.grpo", "rl.grpo|clip-epsilon = 0.05, chunk-size = 4", "rl.kl",
        "rl.kl|estimator = k3, chunk-size = 3", "rl.kl|estimator = k1", "rl.kl|reference = initial",
        "rl.entropy|chunk-size = 5", "dpo.sigmoid", "dpo.sigmoid|beta = 0.5, chunk-size = 2"})
    void fusedEqualsUnfusedThroughATiedGpt2Student(String spec) {
        String[] parts = spec.split("\\|");
        Loss loss = run.loss(parts[0], parts.length > 1 ? parts[1] : "");
        TokenBatch b = parts[0].startsWith("dpo.") ? pairs : batch;
        FusedParity.Result unfused = FusedParity.throughModel(loss, student, b, FusedParity.noTeacher(), false,
                run.manager());
        FusedParity.Result fused = FusedParity.throughModel(loss, student, b, FusedParity.noTeacher(), true,
                run.manager());
        FusedParity.assertEqual(unfused, fused, 1e-5, 1e-4, spec);
    }
}
