package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * VIKDF's objectives against an independent double-precision reference written here: the
 * symmetric InfoNCE of image–text matching (value, a hand-computed two-pair case, gradient by finite
 * differences), masked image modelling's L1 and the masked cross-entropy of masked text modelling
 * and of the I2T caption loss.
 */
class VikdfObjectivesTest {

    static NDManager manager;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    static float[] gaussian(Random r, int n) {
        float[] f = new float[n];
        for (int i = 0; i < n; i++) {
            f[i] = (float) r.nextGaussian();
        }
        return f;
    }

    /** The reference: rows normalised, S = t iᵀ / τ, (CE over rows + CE over columns of the diagonal) / 2. */
    static double infoNce(float[] t, float[] i, int b, int d, double tau) {
        double[][] tn = unit(t, b, d);
        double[][] in = unit(i, b, d);
        double[][] s = new double[b][b];
        for (int r = 0; r < b; r++) {
            for (int c = 0; c < b; c++) {
                for (int k = 0; k < d; k++) {
                    s[r][c] += tn[r][k] * in[c][k];
                }
                s[r][c] /= tau;
            }
        }
        double rows = 0;
        double cols = 0;
        for (int r = 0; r < b; r++) {
            double sumRow = 0;
            double sumCol = 0;
            for (int c = 0; c < b; c++) {
                sumRow += Math.exp(s[r][c]);
                sumCol += Math.exp(s[c][r]);
            }
            rows += Math.log(sumRow) - s[r][r];
            cols += Math.log(sumCol) - s[r][r];
        }
        return (rows / b + cols / b) / 2;
    }

    static double[][] unit(float[] x, int b, int d) {
        double[][] out = new double[b][d];
        for (int r = 0; r < b; r++) {
            double n = 0;
            for (int k = 0; k < d; k++) {
                n += (double) x[r * d + k] * x[r * d + k];
            }
            for (int k = 0; k < d; k++) {
                out[r][k] = x[r * d + k] / Math.sqrt(n);
            }
        }
        return out;
    }

    @Test
    void infoNceMatchesTheReference() {
        Random r = new Random(21);
        int b = 5;
        int d = 7;
        float[] t = gaussian(r, b * d);
        float[] i = gaussian(r, b * d);
        try (NDManager m = manager.newSubManager()) {
            for (double tau : new double[] {0.1, 1.0}) {
                float got = VikdfTrainer.infoNce(m.create(t, new Shape(b, d)), m.create(i, new Shape(b, d)), tau, m)
                        .getFloat();
                double want = infoNce(t, i, b, d, tau);
                assertEquals(want, got, 1e-5 * Math.max(1, want), "temperature " + tau);
            }
            // two pairs, each text aligned with its image: S = [[1, 0], [0, 1]] / τ; with τ = 1 each side is
            // log(e + 1) − 1, the symmetric loss too
            float[] eye = {1, 0, 0, 1};
            float got = VikdfTrainer.infoNce(m.create(eye, new Shape(2, 2)), m.create(eye, new Shape(2, 2)), 1.0, m)
                    .getFloat();
            assertEquals(Math.log(Math.E + 1) - 1, got, 1e-6);
            // lengths do not matter: the rows are normalised
            float[] scaled = {3, 0, 0, 0.5f};
            assertEquals(got, VikdfTrainer.infoNce(m.create(scaled, new Shape(2, 2)), m.create(eye, new Shape(2, 2)),
                    1.0, m).getFloat(), 1e-6);
        }
    }

    @Test
    void infoNceGradientMatchesFiniteDifferences() {
        Random r = new Random(22);
        int b = 4;
        int d = 3;
        float[] t = gaussian(r, b * d);
        float[] i = gaussian(r, b * d);
        double tau = 0.5;
        try (NDManager m = manager.newSubManager()) {
            NDArray text = m.create(t, new Shape(b, d));
            text.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                gc.backward(VikdfTrainer.infoNce(text, m.create(i, new Shape(b, d)), tau, m));
            }
            float[] g = text.getGradient().toFloatArray();
            double h = 1e-4;
            for (int idx = 0; idx < b * d; idx++) {
                float[] plus = t.clone();
                float[] minus = t.clone();
                plus[idx] += (float) h;
                minus[idx] -= (float) h;
                double numeric = (infoNce(plus, i, b, d, tau) - infoNce(minus, i, b, d, tau)) / (2 * h);
                assertEquals(numeric, g[idx], 2e-3 * Math.max(1, Math.abs(numeric)), "gradient at " + idx);
            }
        }
    }

    @Test
    void maskedL1IsTheMeanAbsoluteErrorOfTheMaskedFeatures() {
        Random r = new Random(23);
        int b = 2;
        int n = 4;
        int d = 3;
        float[] pred = gaussian(r, b * n * d);
        float[] target = gaussian(r, b * n * d);
        float[] mask = {1, 0, 1, 0, 0, 1, 1, 1};
        double sum = 0;
        int masked = 0;
        for (int p = 0; p < b * n; p++) {
            if (mask[p] == 0) {
                continue;
            }
            masked++;
            for (int k = 0; k < d; k++) {
                sum += Math.abs(pred[p * d + k] - target[p * d + k]);
            }
        }
        double want = sum / (masked * d);
        try (NDManager m = manager.newSubManager()) {
            float got = VikdfTrainer.maskedL1(m.create(pred, new Shape(b, n, d)), m.create(target, new Shape(b, n, d)),
                    m.create(mask, new Shape(b, n, 1))).getFloat();
            assertEquals(want, got, 1e-6 * want);
        }
    }

    @Test
    void maskedCrossEntropyCountsOnlyTheMaskedPositions() {
        Random r = new Random(24);
        int b = 2;
        int t = 3;
        int v = 5;
        float[] logits = gaussian(r, b * t * v);
        long[] targets = {4, 0, 2, 1, 3, 3};
        float[] mask = {1, 1, 0, 0, 1, 0};
        double sum = 0;
        for (int p = 0; p < b * t; p++) {
            if (mask[p] == 0) {
                continue;
            }
            double z = 0;
            for (int k = 0; k < v; k++) {
                z += Math.exp(logits[p * v + k]);
            }
            sum += Math.log(z) - logits[p * v + (int) targets[p]];
        }
        double want = sum / 3;
        try (NDManager m = manager.newSubManager()) {
            float got = VikdfTrainer.maskedCrossEntropy(m.create(logits, new Shape(b, t, v)),
                    m.create(targets, new Shape(b, t)), m.create(mask, new Shape(b, t))).getFloat();
            assertEquals(want, got, 1e-5 * want);
            // nothing masked: zero, not a division by zero
            float none = VikdfTrainer.maskedCrossEntropy(m.create(logits, new Shape(b, t, v)),
                    m.create(targets, new Shape(b, t)), m.zeros(new Shape(b, t), DataType.FLOAT32)).getFloat();
            assertEquals(0f, none, 0f);
        }
    }
}
