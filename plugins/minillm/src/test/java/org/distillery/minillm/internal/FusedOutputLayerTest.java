package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

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
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Golden tests of the fused output layer for the MiniLLM losses: {@code minillm.pg} (PPO-clipped
 * policy gradient), {@code minillm.single-step} (composes kd-core's reverse KL) and {@code
 * minillm.pt} (composes kd-core's SFT and forward KL on the corpus rows) give the same value and
 * gradients of every student parameter with the student's and the teacher's logits fused as with
 * them materialised, through a real tiny GPT-2 (tied embeddings) and teacher, on a rollout-shaped
 * batch (rollout rows with old log-probabilities, importance weights and advantages; corpus rows
 * with the pre-training mask).
 *
 * <p>Tolerances: values within 1e-5·max(1, |v|); each gradient entry within 1e-4 of the largest
 * entry of its array.
 */
class FusedOutputLayerTest {

    private static final int B = 3;
    private static final int T = 10;
    private static final int V = 48;

    private static TestRun run;
    private static LanguageModel student;
    private static LanguageModel teacher;
    private static NDManager data;
    private static TokenBatch batch;

    @BeforeAll
    static void setUp() {
        run = TestRun.bare();
        student = model(16, 1);
        teacher = model(24, 2);
        data = run.manager().newSubManager();
        batch = rolloutBatch(data);
    }

    @AfterAll
    static void tearDown() {
        data.close();
        student.close();
        teacher.close();
        run.close();
    }

    private static LanguageModel model(long width, long seed) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", (long) V);
        raw.put("n_embd", width);
        raw.put("n_layer", 2L);
        raw.put("n_head", 2L);
        raw.put("n_positions", 32L);
        raw.put("initializer_range", 0.3);
        raw.put("attn_pdrop", 0.0);
        raw.put("resid_pdrop", 0.0);
        raw.put("embd_pdrop", 0.0);
        return run.models().create(ModelConfigs.fromMap(raw), seed, run.manager());
    }

    /**
     * Rows 0 and 1 are rollouts (prompt of 3, response counted, row 1 right-padded by 2) with the
     * sampler's per-token values; row 2 is a corpus row counted by the pre-training mask only.
     */
    private static TokenBatch rolloutBatch(NDManager m) {
        Random random = new Random(29);
        long[] ids = new long[B * T];
        long[] targets = new long[B * T];
        float[] attention = new float[B * T];
        float[] loss = new float[B * T];
        float[] pt = new float[B * T];
        float[] old = new float[B * T];
        float[] importance = new float[B * T];
        float[] advantages = new float[B * T];
        for (int r = 0; r < B; r++) {
            int length = r == 1 ? T - 2 : T;
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                ids[i] = t < length ? random.nextInt(V) : 0;
                attention[i] = t < length ? 1 : 0;
            }
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                boolean counted = t + 1 < length;
                targets[i] = counted ? ids[i + 1] : 0;
                if (r < 2) {
                    loss[i] = counted && t >= 2 ? 1 : 0;
                } else {
                    pt[i] = counted ? 1 : 0;
                }
                if (loss[i] == 1) {
                    old[i] = (float) (-Math.log(V) + 0.4 * random.nextGaussian());
                    importance[i] = (float) (0.6 + 0.8 * random.nextDouble());
                    advantages[i] = (float) random.nextGaussian();
                }
            }
        }
        Shape shape = new Shape(B, T);
        Map<String, NDArray> extras = new HashMap<>();
        extras.put(Extras.OLD_LOGPROBS, m.create(old, shape));
        extras.put(Extras.IMPORTANCE, m.create(importance, shape));
        extras.put(Extras.ADVANTAGES, m.create(advantages, shape));
        extras.put(Extras.PT_MASK, m.create(pt, shape));
        return new TokenBatch(m.create(ids, shape), m.create(attention, shape), m.create(targets, shape),
                m.create(loss, shape), m.create(new int[] {2, 2, 0}), extras);
    }

    @ParameterizedTest
    @ValueSource(strings = {"minillm.pg", "minillm.pg|clip-epsilon = 0.05, chunk-size = 3", "minillm.single-step",
        "minillm.single-step|importance-weight = true, chunk-size = 4", "minillm.pt", "minillm.pt|kd-ratio = 0.2",
        "minillm.pt|kd-ratio = 0"})
    void fusedEqualsUnfused(String spec) {
        String[] parts = spec.split("\\|", 2);
        Loss l = run.loss(parts[0], parts.length > 1 ? parts[1] : "");
        FusedParity.TeacherSide t = FusedParity.modelTeacher(teacher);
        FusedParity.Result unfused = FusedParity.throughModel(l, student, batch, t, false, run.manager());
        FusedParity.Result fused = FusedParity.throughModel(l, student, batch, t, true, run.manager());
        assertTrue(unfused.value() != 0, "a non-trivial value");
        FusedParity.assertEqual(unfused, fused, 1e-5, 1e-4, spec);
    }

    @ParameterizedTest
    @ValueSource(strings = {"minillm.single-step", "minillm.pt"})
    void topKTeacherToo(String key) {
        Loss l = run.loss(key, "");
        FusedParity.TeacherSide t = FusedParity.topKTeacher(teacher, 6);
        FusedParity.assertEqual(FusedParity.throughModel(l, student, batch, t, false, run.manager()),
                FusedParity.throughModel(l, student, batch, t, true, run.manager()), 1e-5, 1e-4, key + ", top-6 teacher");
    }
}
