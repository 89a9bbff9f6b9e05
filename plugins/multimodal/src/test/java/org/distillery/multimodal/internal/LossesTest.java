package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
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
import org.distillery.api.teacher.TeacherOutput;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * LLaVA-KD's loss terms against an independent double-precision reference written here (softmax,
 * KL, R = Z Zᵀ, cosine), on a batch with an image row (image tokens at positions 1-3) and a
 * text-only row, then with two image rows; values within 1e-5 relative, gradients checked by
 * finite differences and chunked against unchunked.
 */
class LossesTest {

    static final int B = 2;
    static final int T = 7;
    static final int V = 6;
    static TestRun run;

    @BeforeAll
    static void setUp() {
        run = TestRun.bare();
    }

    @AfterAll
    static void tearDown() {
        run.close();
    }

    static float[] gaussian(Random r, int n, double scale) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) (r.nextGaussian() * scale);
        }
        return f;
    }

    /** Response positions 4-6 of row 0, 2-6 of row 1; image spans {@code spans} ([start, count] per row). */
    static TokenBatch batch(NDManager m, int[] spans) {
        float[] mask = new float[B * T];
        for (int t = 4; t < T; t++) {
            mask[t] = 1;
        }
        for (int t = 2; t < T; t++) {
            mask[T + t] = 1;
        }
        Shape s = new Shape(B, T);
        int images = 0;
        for (int i = 0; i < B; i++) {
            images += spans[2 * i + 1] > 0 ? 1 : 0;
        }
        return new TokenBatch(m.zeros(s, DataType.INT64), m.ones(s), m.zeros(s, DataType.INT64), m.create(mask, s),
                m.zeros(new Shape(B), DataType.INT32)).withImages(m.zeros(new Shape(images, 3, 2, 2)),
                m.create(spans, new Shape(B, 2)));
    }

    static double[] softmax(float[] z, int off) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < V; j++) {
            max = Math.max(max, z[off + j]);
        }
        double sum = 0;
        double[] p = new double[V];
        for (int j = 0; j < V; j++) {
            p[j] = Math.exp(z[off + j] - max);
            sum += p[j];
        }
        for (int j = 0; j < V; j++) {
            p[j] /= sum;
        }
        return p;
    }

    /** KL(p_T || q_S) at position (b, t). */
    static double kl(float[] student, float[] teacher, int b, int t) {
        double[] p = softmax(teacher, (b * T + t) * V);
        double[] q = softmax(student, (b * T + t) * V);
        double k = 0;
        for (int j = 0; j < V; j++) {
            k += p[j] * Math.log(p[j] / q[j]);
        }
        return k;
    }

    /** The reference RDist over the image spans, flattened over the batch (or per image), rows optionally L2-normalised. */
    static double relation(float[] student, float[] teacher, int[] spans, boolean l2, boolean perImage) {
        double dot = 0;
        double ns = 0;
        double nt = 0;
        double perImageSum = 0;
        int images = 0;
        for (int b = 0; b < B; b++) {
            int s0 = spans[2 * b];
            int n = spans[2 * b + 1];
            if (n == 0) {
                continue;
            }
            double[][] rs = gram(student, b, s0, n, l2);
            double[][] rt = gram(teacher, b, s0, n, l2);
            double d = 0;
            double a = 0;
            double c = 0;
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    d += rs[i][j] * rt[i][j];
                    a += rs[i][j] * rs[i][j];
                    c += rt[i][j] * rt[i][j];
                }
            }
            dot += d;
            ns += a;
            nt += c;
            perImageSum += 1 - d / (Math.sqrt(a) * Math.sqrt(c));
            images++;
        }
        return perImage ? perImageSum / images : 1 - dot / (Math.sqrt(ns) * Math.sqrt(nt));
    }

    static double[][] gram(float[] z, int b, int start, int n, boolean l2) {
        double[][] rows = new double[n][V];
        for (int i = 0; i < n; i++) {
            double norm = 0;
            for (int j = 0; j < V; j++) {
                rows[i][j] = z[(b * T + start + i) * V + j];
                norm += rows[i][j] * rows[i][j];
            }
            if (l2) {
                for (int j = 0; j < V; j++) {
                    rows[i][j] /= Math.sqrt(norm);
                }
            }
        }
        double[][] r = new double[n][n];
        for (int i = 0; i < n; i++) {
            for (int k = 0; k < n; k++) {
                for (int j = 0; j < V; j++) {
                    r[i][k] += rows[i][j] * rows[k][j];
                }
            }
        }
        return r;
    }

    static float compute(Loss l, NDManager m, TokenBatch b, float[] s, float[] t) {
        LossInput in = new LossInput(b, m.create(s, new Shape(B, T, V)), List.of(),
                new TeacherOutput(m.create(t, new Shape(B, T, V)), null, null, null, List.of()), List.of(), m);
        return l.compute(in).sum().getFloat();
    }

    @Test
    void responseAndVisualKlMatchTheReference() {
        Random r = new Random(11);
        float[] s = gaussian(r, B * T * V, 1.5);
        float[] t = gaussian(r, B * T * V, 1.5);
        int[] spans = {1, 3, 0, 0};
        double response = 0;
        for (int p = 4; p < T; p++) {
            response += kl(s, t, 0, p);
        }
        for (int p = 2; p < T; p++) {
            response += kl(s, t, 1, p);
        }
        double visual = 0;
        for (int p = 1; p < 4; p++) {
            visual += kl(s, t, 0, p);
        }
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch b = batch(m, spans);
            assertEquals(response, compute(run.loss(ResponseKlLoss.KEY, ""), m, b, s, t), 1e-5 * response);
            // the mean over the 3 image positions, times the 8 response tokens the trainer divides by
            double perImageToken = visual / 3 * 8;
            assertEquals(perImageToken, compute(run.loss(VisualKlLoss.KEY, ""), m, b, s, t), 1e-5 * perImageToken);
            assertEquals(visual, compute(run.loss(VisualKlLoss.KEY, "normalize = response-tokens"), m, b, s, t),
                    1e-5 * visual);
            // another registered divergence: reverse KL at the image positions
            double reverse = 0;
            for (int p = 1; p < 4; p++) {
                reverse += kl(t, s, 0, p);
            }
            assertEquals(reverse, compute(run.loss(VisualKlLoss.KEY, "divergence = kd.reverse-kl, normalize = "
                    + "response-tokens"), m, b, s, t), 1e-5 * reverse);
            TokenBatch noImages = new TokenBatch(b.inputIds(), b.attentionMask(), b.targets(), b.lossMask(),
                    b.promptLengths());
            assertEquals(0f, compute(run.loss(VisualKlLoss.KEY, ""), m, noImages, s, t));
            assertEquals(0f, compute(run.loss(RelationLoss.KEY, ""), m, noImages, s, t));
        }
    }

    @Test
    void relationMatchesTheReferenceForEveryOption() {
        Random r = new Random(12);
        float[] s = gaussian(r, B * T * V, 1.0);
        float[] t = gaussian(r, B * T * V, 1.0);
        try (NDManager m = run.manager().newSubManager()) {
            for (int[] spans : List.of(new int[] {1, 3, 0, 0}, new int[] {1, 3, 2, 4})) {
                TokenBatch b = batch(m, spans);
                for (String norm : List.of("none", "l2")) {
                    for (String red : List.of("batch", "image")) {
                        double want = relation(s, t, spans, norm.equals("l2"), red.equals("image")) * 8;
                        float got = compute(run.loss(RelationLoss.KEY, "normalize = " + norm + ", reduction = " + red),
                                m, b, s, t);
                        assertEquals(want, got, 1e-5 * Math.max(1, want), norm + " " + red + " " + spans[3]);
                    }
                }
            }
        }
    }

    @Test
    void relationGradientMatchesFiniteDifferences() {
        Random r = new Random(13);
        float[] s = gaussian(r, B * T * V, 1.0);
        float[] t = gaussian(r, B * T * V, 1.0);
        int[] spans = {1, 3, 2, 4};
        try (NDManager m = run.manager().newSubManager()) {
            TokenBatch b = batch(m, spans);
            NDArray logits = m.create(s, new Shape(B, T, V));
            logits.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossValue v = run.loss(RelationLoss.KEY, "").compute(new LossInput(b, logits, List.of(),
                        new TeacherOutput(m.create(t, new Shape(B, T, V)), null, null, null, List.of()), List.of(), m, gc));
                gc.backward(v.sum());
            }
            float[] g = logits.getGradient().toFloatArray();
            double h = 1e-4;
            for (int idx : new int[] {(0 * T + 1) * V + 2, (0 * T + 3) * V + 5, (1 * T + 4) * V, (1 * T + 6) * V + 1,
                (0 * T + 5) * V + 1}) {
                float[] plus = s.clone();
                float[] minus = s.clone();
                plus[idx] += (float) h;
                minus[idx] -= (float) h;
                double numeric = (relation(plus, t, spans, false, false) - relation(minus, t, spans, false, false))
                        / (2 * h) * 8;
                assertEquals(numeric, g[idx], 2e-3 * Math.max(1, Math.abs(numeric)), "gradient at " + idx);
            }
            // a position outside every image span gets no gradient
            assertEquals(0f, g[(0 * T + 5) * V + 1]);
        }
    }

    @Test
    void chunkedVisualKlGradientEqualsOneBackward() {
        Random r = new Random(14);
        float[] s = gaussian(r, B * T * V, 1.0);
        float[] t = gaussian(r, B * T * V, 1.0);
        int[] spans = {1, 3, 2, 4};
        float[][] grads = new float[2][];
        for (int mode = 0; mode < 2; mode++) {
            try (NDManager m = run.manager().newSubManager()) {
                TokenBatch b = batch(m, spans);
                NDArray logits = m.create(s, new Shape(B, T, V));
                logits.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    LossValue v = run.loss(VisualKlLoss.KEY, "divergence-params { chunk-size = 2 }").compute(
                            new LossInput(b, logits.mul(m.create(1f)), List.of(), new TeacherOutput(
                                    m.create(t, new Shape(B, T, V)), null, null, null, List.of()), List.of(), m,
                                    mode == 0 ? null : gc));
                    gc.backward(v.sum());
                }
                grads[mode] = logits.getGradient().toFloatArray();
            }
        }
        assertArrayEquals(grads[0], grads[1], 1e-6f);
    }

    @Test
    void badDivergencesAreRejectedNamingTheParameter() {
        var e = assertThrows(InvalidConfigException.class, () -> run.loss(VisualKlLoss.KEY, "divergence = kd.nope"));
        assertTrue(e.getMessage().contains("divergence") && e.getMessage().contains("kd.forward-kl"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> run.loss(ResponseKlLoss.KEY, "divergence-params { tau = 2 }"));
        assertTrue(e.getMessage().contains("divergence-params.tau") && e.getMessage().contains("temperature"),
                e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> run.loss(RelationLoss.KEY, "features = pixels"));
        assertTrue(e.getMessage().contains("features"), e.getMessage());
    }
}
