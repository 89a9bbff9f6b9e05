package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

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
import org.distillery.api.teacher.TeacherOutput;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The three MiniLLM loss terms against hand-computed values and the kd-core losses they compose. */
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

    /** A [b, t] batch with the given targets, loss mask and extras. */
    private static TokenBatch batch(NDManager m, int b, int t, long[] targets, float[] mask, Map<String, float[]> extras) {
        Shape shape = new Shape(b, t);
        Map<String, NDArray> ex = new java.util.HashMap<>();
        extras.forEach((k, v) -> ex.put(k, m.create(v, shape)));
        return new TokenBatch(m.zeros(shape, DataType.INT64), m.ones(shape), m.create(targets, shape), m.create(mask, shape),
                m.zeros(new Shape(b), DataType.INT32), ex);
    }

    @Test
    void clippedSurrogateMatchesHandComputedValuesAndGradients() {
        // uniform student over 4 tokens: log q = log q_old = -ln 4, so rho = w
        float lnQ = (float) -Math.log(4);
        try (NDManager m = run.manager().newSubManager()) {
            NDArray logits = m.zeros(new Shape(1, 4, 4));
            logits.setRequiresGradient(true);
            TokenBatch b = batch(m, 1, 4, new long[] {1, 2, 3, 0}, new float[] {1, 1, 1, 0}, Map.of(
                    Extras.OLD_LOGPROBS, new float[] {lnQ, lnQ, lnQ, lnQ},
                    Extras.IMPORTANCE, new float[] {1.0f, 1.5f, 0.5f, 3.0f},
                    Extras.ADVANTAGES, new float[] {2f, 1f, -1f, 7f}));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossValue v = run.loss(PolicyGradientLoss.KEY, "").compute(new LossInput(b, logits, List.of(), null,
                        List.of(), m));
                // t0: rho = 1 -> -2; t1: rho = 1.5 > 1.2 -> max(-1.5, -1.2) = -1.2; t2: rho = 0.5 < 0.8, A < 0 ->
                // max(0.5, 0.8) = 0.8; t3 masked. Sum = -2.4.
                assertEquals(-2.4f, v.sum().getFloat(), 1e-5f);
                assertEquals(3, v.count());
                gc.backward(v.sum());
            }
            float[] g = logits.getGradient().toFloatArray();
            // t0 unclipped: d(-A rho)/dz = -A rho (onehot - q) = -2 (onehot(1) - 0.25)
            assertArrayEquals(new float[] {0.5f, -1.5f, 0.5f, 0.5f}, java.util.Arrays.copyOfRange(g, 0, 4), 1e-5f);
            // t1 and t2 take the clipped branch (a constant): no gradient; t3 is masked
            for (int i = 4; i < 16; i++) {
                assertEquals(0f, g[i], 1e-7f, "gradient " + i);
            }
        }
    }

    @Test
    void surrogateOnRandomInputsMatchesTheFormula() {
        Random r = new Random(3);
        int b = 2;
        int t = 5;
        int v = 7;
        float[] z = gaussian(r, b * t * v);
        long[] targets = new long[b * t];
        float[] old = new float[b * t];
        float[] w = new float[b * t];
        float[] adv = new float[b * t];
        float[] mask = new float[b * t];
        for (int i = 0; i < b * t; i++) {
            targets[i] = r.nextInt(v);
            old[i] = (float) (-2 + r.nextGaussian() * 0.3);
            w[i] = (float) (0.5 + r.nextDouble());
            adv[i] = (float) r.nextGaussian();
            mask[i] = i % 4 == 3 ? 0 : 1;
        }
        double expected = 0;
        for (int i = 0; i < b * t; i++) {
            double[] lp = logSoftmax(z, i * v, v);
            double rho = Math.exp(lp[(int) targets[i]] - old[i]) * w[i];
            double clipped = Math.max(0.8, Math.min(1.2, rho));
            expected += mask[i] * Math.max(-adv[i] * rho, -adv[i] * clipped);
        }
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch batch = batch(m, b, t, targets, mask, Map.of(Extras.OLD_LOGPROBS, old, Extras.IMPORTANCE, w,
                    Extras.ADVANTAGES, adv));
            for (String params : List.of("", "chunk-size = 2")) {
                LossValue value = run.loss(PolicyGradientLoss.KEY, params).compute(new LossInput(batch,
                        m.create(z, new Shape(b, t, v)), List.of(), null, List.of(), m));
                assertEquals(expected, value.sum().getFloat(), 1e-5, params);
            }
        }
    }

    @Test
    void singleStepTermIsTokenLevelReverseKl() {
        Random r = new Random(5);
        int b = 2;
        int t = 5;
        int v = 7;
        float[] s = gaussian(r, b * t * v);
        float[] te = gaussian(r, b * t * v);
        float[] mask = {1, 1, 1, 0, 0, 0, 1, 1, 1, 1};
        float[] w = new float[b * t];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) (0.2 + 2 * r.nextDouble());
        }
        double plain = 0;
        double weighted = 0;
        for (int i = 0; i < b * t; i++) {
            double[] lq = logSoftmax(s, i * v, v);
            double[] lp = logSoftmax(te, i * v, v);
            double kl = 0;
            for (int x = 0; x < v; x++) {
                kl += Math.exp(lq[x]) * (lq[x] - lp[x]);
            }
            plain += mask[i] * kl;
            weighted += mask[i] * w[i] * kl;
        }
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch batch = batch(m, b, t, new long[b * t], mask, Map.of(Extras.IMPORTANCE, w));
            LossInput in = new LossInput(batch, m.create(s, new Shape(b, t, v)), List.of(),
                    new TeacherOutput(m.create(te, new Shape(b, t, v)), null, null, null, List.of()), List.of(), m);
            Loss single = run.loss(SingleStepLoss.KEY, "");
            assertEquals(Set.of(Loss.Need.TEACHER_LOGITS), single.needs());
            LossValue code = single.compute(in);
            LossValue reverseKl = run.loss("kd.reverse-kl", "").compute(in);
            assertEquals(reverseKl.sum().getFloat(), code.sum().getFloat(), 0f, "the code's form is kd.reverse-kl");
            assertEquals(reverseKl.count(), code.count());
            assertEquals(plain, code.sum().getFloat(), 1e-5);
            LossValue paper = run.loss(SingleStepLoss.KEY, "importance-weight = true").compute(in);
            assertEquals(weighted, paper.sum().getFloat(), 1e-5);
            assertEquals(7, paper.count(), "counts tokens, not weights");
        }
    }

    @Test
    void pretrainingTermIsTheMeanOverCorpusTokensAfterTheTrainersNormalisation() {
        Random r = new Random(9);
        int b = 2;
        int t = 4;
        int v = 5;
        float[] s = gaussian(r, b * t * v);
        float[] te = gaussian(r, b * t * v);
        long[] targets = {1, 2, 3, 4, 0, 1, 2, 3};
        float[] loss = {0, 1, 1, 0, 0, 0, 0, 0}; // two rollout tokens in row 0
        float[] pt = {0, 0, 0, 0, 1, 1, 1, 0};   // three corpus tokens in row 1
        double ce = 0;
        double fkl = 0;
        for (int i = 0; i < b * t; i++) {
            if (pt[i] == 0) {
                continue;
            }
            double[] lq = logSoftmax(s, i * v, v);
            double[] lp = logSoftmax(te, i * v, v);
            ce -= lq[(int) targets[i]];
            for (int x = 0; x < v; x++) {
                fkl += Math.exp(lp[x]) * (lp[x] - lq[x]);
            }
        }
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch batch = batch(m, b, t, targets, loss, Map.of(Extras.PT_MASK, pt));
            LossInput in = new LossInput(batch, m.create(s, new Shape(b, t, v)), List.of(),
                    new TeacherOutput(m.create(te, new Shape(b, t, v)), null, null, null, List.of()), List.of(), m);
            LossValue half = run.loss(PretrainLoss.KEY, "").compute(in);
            // the trainer divides by the 2 rollout tokens; the term must then be the mean over 3 corpus tokens
            assertEquals((0.5 * ce + 0.5 * fkl) / 3, half.sum().getFloat() / 2, 1e-5);
            assertEquals(3, half.count());
            Loss lmOnly = run.loss(PretrainLoss.KEY, "kd-ratio = 0");
            assertTrue(lmOnly.needs().isEmpty(), "no teacher needed without the distillation part");
            assertEquals(ce / 3, lmOnly.compute(in).sum().getFloat() / 2, 1e-5);
            TokenBatch noCorpus = batch(m, b, t, targets, loss, Map.of(Extras.PT_MASK, new float[b * t]));
            assertEquals(0f, run.loss(PretrainLoss.KEY, "").compute(new LossInput(noCorpus, in.studentLogits(), List.of(),
                    in.teacher(), List.of(), m)).sum().getFloat());
        }
    }

    @Test
    void aBatchWithoutRolloutValuesIsRejectedByName() {
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch plain = batch(m, 1, 2, new long[2], new float[] {1, 1}, Map.of());
            var e = assertThrows(IllegalArgumentException.class, () -> run.loss(PolicyGradientLoss.KEY, "").compute(
                    new LossInput(plain, m.zeros(new Shape(1, 2, 3)), List.of(), null, List.of(), m)));
            assertTrue(e.getMessage().contains("old-logprobs"), e.getMessage());
        }
    }

    @Test
    void outOfRangeParametersNameTheirPath() {
        var e = assertThrows(InvalidConfigException.class, () -> run.loss(PolicyGradientLoss.KEY, "clip-epsilon = 1.5"));
        assertEquals("train.loss[0].params.clip-epsilon", e.path());
        e = assertThrows(InvalidConfigException.class, () -> run.loss(PretrainLoss.KEY, "kd-ratio = -0.1"));
        assertEquals("train.loss[0].params.kd-ratio", e.path());
    }

    static float[] gaussian(Random r, int n) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (1.5 * r.nextGaussian());
        }
        return x;
    }

    static double[] logSoftmax(float[] z, int off, int v) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < v; i++) {
            max = Math.max(max, z[off + i]);
        }
        double sum = 0;
        for (int i = 0; i < v; i++) {
            sum += Math.exp(z[off + i] - max);
        }
        double lse = max + Math.log(sum);
        double[] out = new double[v];
        for (int i = 0; i < v; i++) {
            out[i] = z[off + i] - lse;
        }
        return out;
    }
}
