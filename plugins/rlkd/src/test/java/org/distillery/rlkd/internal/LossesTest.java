package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The bundle's losses against values and gradients worked out by hand (tolerance 1e-5): GRPO's clipped
 * surrogate, the three KL estimators (and their expected gradients against the exact reverse-KL
 * gradient), the entropy term, and the DPO loss, each on the plain path and on the chunk-gradient path
 * the trainer uses.
 */
class LossesTest {

    private static TestRun run;

    @BeforeAll
    static void setUp() {
        run = TestRun.bare();
    }

    @AfterAll
    static void tearDown() {
        run.close();
    }

    /** A [b, t] batch with targets, loss mask, per-token extras and per-row extras. */
    private static TokenBatch batch(NDManager m, int b, int t, long[] targets, float[] mask, Map<String, float[]> tokens,
                                    Map<String, float[]> rows) {
        Shape shape = new Shape(b, t);
        Map<String, NDArray> ex = new HashMap<>();
        tokens.forEach((k, v) -> ex.put(k, m.create(v, shape)));
        rows.forEach((k, v) -> ex.put(k, m.create(v)));
        return new TokenBatch(m.zeros(shape, DataType.INT64), m.ones(shape), m.create(targets, shape),
                m.create(mask, shape), m.zeros(new Shape(b), DataType.INT32), ex);
    }

    /** Value and gradient of {@code loss} on {@code logits}, with the trainer's collector in the input or without. */
    private static float[] valueAndGradient(Loss loss, TokenBatch b, NDArray logits, NDManager m, boolean chunked,
                                            float[] value) {
        logits.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            LossValue v = loss.compute(new LossInput(b, logits, List.of(), null, List.of(), m, chunked ? gc : null));
            value[0] = v.sum().getFloat();
            gc.backward(v.sum());
        }
        return logits.getGradient().toFloatArray();
    }

    private static double[] softmax(float[] z, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, z[from + i]);
        }
        double sum = 0;
        double[] p = new double[n];
        for (int i = 0; i < n; i++) {
            p[i] = Math.exp(z[from + i] - max);
            sum += p[i];
        }
        for (int i = 0; i < n; i++) {
            p[i] /= sum;
        }
        return p;
    }

    @Test
    void grpoSurrogateClipsTheRatioAroundOne() {
        // a uniform student over 4 tokens: log pi = -ln 4; old log-probs set so that rho = 1, 1.5, 0.5
        float lnQ = (float) -Math.log(4);
        float[] old = {lnQ, lnQ - (float) Math.log(1.5), lnQ - (float) Math.log(0.5), lnQ};
        try (NDManager m = run.manager().newSubManager()) {
            for (boolean chunked : new boolean[] {false, true}) {
                NDArray logits = m.zeros(new Shape(1, 4, 4));
                TokenBatch b = batch(m, 1, 4, new long[] {1, 2, 3, 0}, new float[] {1, 1, 1, 0},
                        Map.of(PolicySampler.OLD_LOGPROBS, old, PolicySampler.ADVANTAGES, new float[] {2f, 1f, -1f, 7f}),
                        Map.of());
                float[] value = new float[1];
                float[] g = valueAndGradient(run.loss(GrpoLoss.KEY, "clip-epsilon = 0.2, chunk-size = 1"), b, logits, m,
                        chunked, value);
                // t0: -2; t1: rho 1.5 > 1.2, A > 0: max(-1.5, -1.2) = -1.2; t2: rho 0.5 < 0.8, A < 0: max(0.5, 0.8) = 0.8
                assertEquals(-2.4f, value[0], 1e-5f);
                // t0 unclipped: -A rho (onehot(1) - 1/4) = -2 (onehot(1) - 0.25); t1, t2 clipped: constant
                assertArrayEquals(new float[] {0.5f, -1.5f, 0.5f, 0.5f}, Arrays.copyOfRange(g, 0, 4), 1e-5f);
                for (int i = 4; i < 16; i++) {
                    assertEquals(0f, g[i], 1e-7f, "gradient " + i);
                }
            }
        }
    }

    @Test
    void klEstimatorsAndTheirGradientsMatchTheirFormulas() {
        // uniform student over 4 tokens: log pi = -ln 4 at each position; reference log-probs chosen by hand
        float lnQ = (float) -Math.log(4);
        float[] ref = {-1f, -2f, -0.5f};
        float[] weight = {0.5f, 2f, 1f};
        float[] mask = {1, 1, 0};
        for (KlLoss.Estimator e : KlLoss.Estimator.values()) {
            for (boolean chunked : new boolean[] {false, true}) {
                try (NDManager m = run.manager().newSubManager()) {
                    NDArray logits = m.zeros(new Shape(1, 3, 4));
                    TokenBatch b = batch(m, 1, 3, new long[] {2, 0, 1}, mask, Map.of(PolicySampler.TEACHER_LOGPROBS, ref,
                            GrpoSampler.TEACHER_KL_WEIGHT, weight), Map.of());
                    String params = "reference = teacher, chunk-size = 2, estimator = " + e.name().toLowerCase();
                    float[] value = new float[1];
                    float[] g = valueAndGradient(run.loss(KlLoss.KEY, params), b, logits, m, chunked, value);
                    double expected = 0;
                    for (int t = 0; t < 3; t++) {
                        double l = lnQ - ref[t];
                        double k = switch (e) {
                            case K1 -> l;
                            case K2 -> l * l / 2;
                            case K3 -> Math.exp(-l) - 1 + l;
                        };
                        double dk = switch (e) {
                            case K1 -> 1;
                            case K2 -> l;
                            case K3 -> 1 - Math.exp(-l);
                        };
                        expected += mask[t] * weight[t] * k;
                        int y = (int) new long[] {2, 0, 1}[t];
                        for (int v = 0; v < 4; v++) {
                            double grad = mask[t] * weight[t] * dk * ((v == y ? 1 : 0) - 0.25);
                            assertEquals(grad, g[t * 4 + v], 1e-5, e + " gradient at " + t + "," + v);
                        }
                    }
                    assertEquals(expected, value[0], 1e-5, e + " value");
                }
            }
        }
    }

    /**
     * On-policy, the expected gradient of each estimator over the student's own tokens, Σ_y π(y) ∇k(y),
     * compared with the exact reverse-KL gradient ∇_z KL(π ‖ p) = π ⊙ (ℓ − KL): k2 matches, k1 gives 0,
     * k3 gives π − p (biased).
     */
    @Test
    void onPolicyOnlyK2HasTheReverseKlGradient() {
        Random r = new Random(5);
        int vocab = 5;
        float[] z = new float[vocab];
        float[] pz = new float[vocab];
        for (int v = 0; v < vocab; v++) {
            z[v] = (float) r.nextGaussian();
            pz[v] = (float) r.nextGaussian();
        }
        double[] q = softmax(z, 0, vocab);
        double[] p = softmax(pz, 0, vocab);
        double kl = 0;
        for (int v = 0; v < vocab; v++) {
            kl += q[v] * Math.log(q[v] / p[v]);
        }
        for (KlLoss.Estimator e : KlLoss.Estimator.values()) {
            double[] expectedGrad = new double[vocab];
            try (NDManager m = run.manager().newSubManager()) {
                for (int y = 0; y < vocab; y++) {
                    NDArray logits = m.create(z, new Shape(1, 1, vocab));
                    TokenBatch b = batch(m, 1, 1, new long[] {y}, new float[] {1},
                            Map.of(GrpoSampler.REFERENCE_LOGPROBS, new float[] {(float) Math.log(p[y])}), Map.of());
                    float[] g = valueAndGradient(run.loss(KlLoss.KEY, "reference = initial, estimator = "
                            + e.name().toLowerCase()), b, logits, m, true, new float[1]);
                    for (int v = 0; v < vocab; v++) {
                        expectedGrad[v] += q[y] * g[v];
                    }
                }
            }
            for (int v = 0; v < vocab; v++) {
                double exact = q[v] * (Math.log(q[v] / p[v]) - kl);
                double want = switch (e) {
                    case K1 -> 0;
                    case K2 -> exact;
                    case K3 -> q[v] - p[v];
                };
                assertEquals(want, expectedGrad[v], 1e-5, e + " expected gradient at " + v);
            }
        }
    }

    @Test
    void klToTheTeacherWithoutItsWeightsNamesWhatIsMissing() {
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch b = batch(m, 1, 1, new long[] {0}, new float[] {1}, Map.of(), Map.of());
            InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> run.loss(KlLoss.KEY, "")
                    .compute(new LossInput(b, m.zeros(new Shape(1, 1, 3)), List.of(), null, List.of(), m)));
            assertTrue(e.getMessage().startsWith("train.loss[0].params: rl.kl with reference = teacher reads the "
                    + "batch's 'teacher-logprobs'") && e.getMessage().contains("beta > 0"), e.getMessage());
            e = assertThrows(InvalidConfigException.class, () -> run.loss(GrpoLoss.KEY, "")
                    .compute(new LossInput(b, m.zeros(new Shape(1, 1, 3)), List.of(), null, List.of(), m)));
            assertTrue(e.getMessage().startsWith("train.loss[0].params: rl.grpo reads the rollouts'"), e.getMessage());
        }
    }

    @Test
    void entropyTermIsTheNegativeEntropyAtCountedTokens() {
        float[] z = {0f, (float) Math.log(3), 1f, 1f};
        try (NDManager m = run.manager().newSubManager()) {
            for (boolean chunked : new boolean[] {false, true}) {
                NDArray logits = m.create(z, new Shape(1, 2, 2));
                TokenBatch b = batch(m, 1, 2, new long[] {0, 0}, new float[] {1, 0}, Map.of(), Map.of());
                float[] value = new float[1];
                float[] g = valueAndGradient(run.loss(EntropyLoss.KEY, "chunk-size = 1"), b, logits, m, chunked, value);
                // position 0: probabilities 1/4, 3/4
                double negH = 0.25 * Math.log(0.25) + 0.75 * Math.log(0.75);
                assertEquals(negH, value[0], 1e-6);
                // d(sum p log p)/dz_j = p_j (log p_j - sum p log p)
                assertEquals(0.25 * (Math.log(0.25) - negH), g[0], 1e-6);
                assertEquals(0.75 * (Math.log(0.75) - negH), g[1], 1e-6);
                assertEquals(0f, g[2], 0f);
                assertEquals(0f, g[3], 0f);
            }
        }
    }

    @Test
    void dpoLossAndGradientMatchTheClosedForm() {
        // two pairs (rows 0/1 and 2/3) of two positions over a vocabulary of three; the second position of
        // row 3 is padding
        Random r = new Random(11);
        int rows = 4;
        int t = 2;
        int vocab = 3;
        float[] z = new float[rows * t * vocab];
        for (int i = 0; i < z.length; i++) {
            z[i] = (float) r.nextGaussian();
        }
        long[] targets = {0, 2, 1, 1, 2, 0, 1, 0};
        float[] mask = {1, 1, 1, 1, 1, 1, 1, 0};
        float[] reference = {-2.5f, -1.9f, -3.1f, -0.7f};
        double beta = 0.3;
        double[] s = new double[rows];
        for (int i = 0; i < rows; i++) {
            for (int k = 0; k < t; k++) {
                double[] sm = softmax(z, (i * t + k) * vocab, vocab);
                s[i] += mask[i * t + k] * Math.log(sm[(int) targets[i * t + k]]);
            }
        }
        double expected = 0;
        double[] gs = new double[rows];
        for (int pair = 0; pair < 2; pair++) {
            int w = 2 * pair;
            int l = w + 1;
            double d = beta * ((s[w] - reference[w]) - (s[l] - reference[l]));
            expected += Math.log1p(Math.exp(-d)) / 2;
            double sig = 1 / (1 + Math.exp(d));
            gs[w] = -beta * sig / 2;
            gs[l] = beta * sig / 2;
        }
        for (int chunk : new int[] {1, 64}) {
            for (boolean chunked : new boolean[] {false, true}) {
                try (NDManager m = run.manager().newSubManager()) {
                    NDArray logits = m.create(z, new Shape(rows, t, vocab));
                    TokenBatch b = batch(m, rows, t, targets, mask, Map.of(),
                            Map.of(PairSampler.REFERENCE_LOGPROBS, reference));
                    float[] value = new float[1];
                    float[] g = valueAndGradient(run.loss(DpoLoss.KEY, "beta = 0.3, chunk-size = " + chunk), b, logits, m,
                            chunked, value);
                    // the trainer divides by the 7 response tokens: the loss returns the pair mean x 7
                    assertEquals(expected, value[0] / 7, 1e-5, "value, chunk " + chunk);
                    for (int i = 0; i < rows; i++) {
                        for (int k = 0; k < t; k++) {
                            double[] sm = softmax(z, (i * t + k) * vocab, vocab);
                            for (int v = 0; v < vocab; v++) {
                                int at = (i * t + k) * vocab + v;
                                double want = gs[i] * mask[i * t + k] * ((v == targets[i * t + k] ? 1 : 0) - sm[v]);
                                assertEquals(want, g[at] / 7, 1e-5, "gradient at " + at + ", chunk " + chunk);
                            }
                        }
                    }
                }
            }
        }
    }

    @Test
    void dpoNeedsPairsWithTheirReference() {
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch b = batch(m, 3, 1, new long[] {0, 0, 0}, new float[] {1, 1, 1}, Map.of(), Map.of());
            InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> run.loss(DpoLoss.KEY, "")
                    .compute(new LossInput(b, m.zeros(new Shape(3, 1, 3)), List.of(), null, List.of(), m)));
            assertTrue(e.getMessage().startsWith("train.loss[0].params: dpo.sigmoid needs batches")
                    && e.getMessage().contains("dpo.pairs"), e.getMessage());
        }
    }
}
