package org.distillery.moe.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Gathering arithmetic against hand-computed 2 x 2 matrices (tolerance 1e-6) and the SVD against its definition. */
class GatheringTest {

    private static final float EPS = 1e-6f;
    // three "experts" and their routing counts on a calibration set
    private static final float[] A = {1, 2, 3, 4};
    private static final float[] B = {0, 1, 0, 1};
    private static final float[] C = {-2, 0, 4, 2};
    private static final long[] COUNTS = {6, 2, 0};

    private static NDManager manager;

    @BeforeAll
    static void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        manager.close();
    }

    private static List<NDArray> experts(NDManager m) {
        return List.of(m.create(A, new Shape(2, 2)), m.create(B, new Shape(2, 2)), m.create(C, new Shape(2, 2)));
    }

    private static float[] gathered(Gathering.Method method, Gathering.Merge merge, int keep) {
        try (NDManager m = manager.newSubManager()) {
            double[] c = Gathering.coefficients(method, merge, keep, COUNTS, 3);
            return Gathering.merge(experts(m), c, m).toFloatArray();
        }
    }

    @Test
    void sumAddsEveryExpert() {
        assertArrayEquals(new float[] {-1, 3, 7, 7}, gathered(Gathering.Method.SUM, null, 0), EPS);
    }

    @Test
    void averageDividesTheSumByE() {
        assertArrayEquals(new float[] {-1 / 3f, 1, 7 / 3f, 7 / 3f}, gathered(Gathering.Method.AVERAGE, null, 0), EPS);
    }

    @Test
    void frequencyWeighsByRoutingShare() {
        // f = (6, 2, 0) / 8 = (0.75, 0.25, 0): 0.75 A + 0.25 B
        assertArrayEquals(new float[] {0.75f, 1.75f, 2.25f, 3.25f}, gathered(Gathering.Method.FREQUENCY, null, 0), EPS);
    }

    @Test
    void topKKeepsTheMostUsedExperts() {
        // K = 2 keeps A (6) and B (2); C (0) is dropped
        assertArrayEquals(new float[] {0.5f, 1.5f, 1.5f, 2.5f}, gathered(Gathering.Method.TOP_K, Gathering.Merge.AVERAGE, 2), EPS);
        assertArrayEquals(new float[] {0.75f, 1.75f, 2.25f, 3.25f},
                gathered(Gathering.Method.TOP_K, Gathering.Merge.FREQUENCY, 2), EPS);
        assertArrayEquals(new float[] {1, 3, 3, 5}, gathered(Gathering.Method.TOP_K, Gathering.Merge.SUM, 2), EPS);
        // K = 1 is the most used expert alone
        assertArrayEquals(A, gathered(Gathering.Method.TOP_K, Gathering.Merge.AVERAGE, 1), EPS);
        // ties go to the lower index
        assertArrayEquals(new int[] {0, 2}, Gathering.mostUsed(new long[] {3, 1, 3, 1}, 2));
    }

    @Test
    void frequencyWithoutAnyCountFails() {
        assertThrows(IllegalArgumentException.class,
                () -> Gathering.coefficients(Gathering.Method.FREQUENCY, null, 0, new long[3], 3));
    }

    @Test
    void svdTruncationIsTheBestLowRankApproximation() {
        try (NDManager m = manager.newSubManager()) {
            // [[3, 0], [0, 1]]: rank 1 keeps the larger singular triplet only
            NDArray d = m.create(new float[] {3, 0, 0, 1}, new Shape(2, 2));
            assertArrayEquals(new float[] {3, 0, 0, 0}, Gathering.truncate(d, 1, m).toFloatArray(), EPS);
            // [[1, 2], [2, 4]] has rank 1: rank-1 truncation is exact
            NDArray r1 = m.create(new float[] {1, 2, 2, 4}, new Shape(2, 2));
            assertArrayEquals(new float[] {1, 2, 2, 4}, Gathering.truncate(r1, 1, m).toFloatArray(), 1e-5f);
            // A = [[1, 2], [3, 4]]: s1 = sqrt(15 + sqrt(221)), s2 = sqrt(15 - sqrt(221))
            Svd.Result svd = Svd.of(new double[][] {{1, 2}, {3, 4}});
            assertEquals(Math.sqrt(15 + Math.sqrt(221)), svd.s()[0], 1e-12);
            assertEquals(Math.sqrt(15 - Math.sqrt(221)), svd.s()[1], 1e-12);
        }
    }

    @Test
    void svdGatheringAtFullRankEqualsPlainGathering() {
        try (NDManager m = manager.newSubManager()) {
            Random r = new Random(3);
            for (int[] shape : new int[][] {{5, 7}, {7, 5}, {6, 6}}) {
                NDArray w = m.randomNormal(new Shape(shape[0], shape[1]));
                float[] full = Gathering.truncate(w, Math.min(shape[0], shape[1]), m).toFloatArray();
                assertArrayEquals(w.toFloatArray(), full, 1e-5f, "shape " + shape[0] + "x" + shape[1]);
                // and the singular vectors are orthonormal
                double[][] a = new double[shape[0]][shape[1]];
                for (double[] row : a) {
                    for (int j = 0; j < row.length; j++) {
                        row[j] = r.nextGaussian();
                    }
                }
                Svd.Result s = Svd.of(a);
                for (int i = 0; i < s.s().length; i++) {
                    for (int j = 0; j < s.s().length; j++) {
                        double uu = 0;
                        double vv = 0;
                        for (double[] row : s.u()) {
                            uu += row[i] * row[j];
                        }
                        for (double[] row : s.v()) {
                            vv += row[i] * row[j];
                        }
                        assertEquals(i == j ? 1 : 0, uu, 1e-9);
                        assertEquals(i == j ? 1 : 0, vv, 1e-9);
                    }
                    assertTrue(i == 0 || s.s()[i] <= s.s()[i - 1]);
                }
            }
            // the gathered blocks: truncating every expert at full rank, then averaging, equals averaging
            List<NDArray> ex = experts(m);
            double[] c = Gathering.coefficients(Gathering.Method.SVD, Gathering.Merge.AVERAGE, 0, null, 3);
            float[] plain = Gathering.merge(ex, c, m).toFloatArray();
            float[] svd = Gathering.merge(ex.stream().map(e -> Gathering.truncate(e, 2, m)).toList(), c, m).toFloatArray();
            assertArrayEquals(plain, svd, 1e-5f);
        }
    }

    @Test
    void paddingAddsUnitsThatComputeNothing() {
        try (NDManager m = manager.newSubManager()) {
            Gathering.Block b = new Gathering.Block(m.create(A, new Shape(2, 2)), m.create(B, new Shape(2, 2)),
                    m.create(C, new Shape(2, 2)));
            Gathering.Block p = Gathering.pad(b, 5, m);
            assertEquals(new Shape(5, 2), p.gate().getShape());
            assertEquals(new Shape(2, 5), p.down().getShape());
            NDArray x = m.create(new float[] {0.3f, -1.2f}, new Shape(1, 2));
            assertArrayEquals(swiglu(b, x), swiglu(p, x), EPS);
            // projecting onto all directions is an orthogonal mixing: the shapes are kept
            Gathering.Block q = Gathering.project(b, 2, m);
            assertEquals(new Shape(2, 2), q.up().getShape());
        }
    }

    private static float[] swiglu(Gathering.Block b, NDArray x) {
        NDArray g = x.matMul(b.gate().transpose());
        NDArray act = g.mul(g.neg().exp().add(1).pow(-1));
        return act.mul(x.matMul(b.up().transpose())).matMul(b.down().transpose()).toFloatArray();
    }
}
