package org.distillery.datagen.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

class CoresetTest {

    private static double[][] gram(double[][] f) {
        double[][] k = new double[f.length][f.length];
        for (int i = 0; i < f.length; i++) {
            for (int j = 0; j < f.length; j++) {
                for (int c = 0; c < f[i].length; c++) {
                    k[i][j] += f[i][c] * f[j][c];
                }
            }
        }
        return k;
    }

    /** Three distinct gradients, each repeated: a (x3), b (x2), c (x1). */
    private static final double[][] DUPLICATED = {
        {1, 0.2, 0}, {1, 0.2, 0}, {0, 1, 0.3}, {1, 0.2, 0}, {0, 1, 0.3}, {0.1, 0, 1},
    };

    @Test
    void gradientMatchingPicksDistinctExamplesWithCountsAsWeights() {
        Coreset.Selection s = Coreset.gradientMatching(gram(DUPLICATED), 3);
        int[] picked = s.indices().clone();
        Arrays.sort(picked);
        // one of each distinct gradient: the first copy of a, b and c
        assertArrayEquals(new int[] {0, 2, 5}, picked);
        // the weights are the multiplicities, and the weighted sum matches the full gradient exactly
        double[] byIndex = new double[6];
        for (int i = 0; i < 3; i++) {
            byIndex[s.indices()[i]] = s.weights()[i];
        }
        assertEquals(3.0, byIndex[0], 1e-6);
        assertEquals(2.0, byIndex[2], 1e-6);
        assertEquals(1.0, byIndex[5], 1e-6);
        assertEquals(0.0, s.error(), 1e-6);
    }

    @Test
    void gradientMatchingErrorShrinksWithTheBudgetAndFullBudgetIsTheFullSet() {
        Random r = new Random(7);
        double[][] f = new double[30][5];
        for (double[] row : f) {
            for (int c = 0; c < row.length; c++) {
                row[c] = r.nextGaussian() + 0.5;
            }
        }
        double[][] k = gram(f);
        double e1 = Coreset.gradientMatching(k, 1).error();
        double e3 = Coreset.gradientMatching(k, 3).error();
        double e8 = Coreset.gradientMatching(k, 8).error();
        assertTrue(e1 > e3 && e3 > e8, e1 + " " + e3 + " " + e8);
        Coreset.Selection all = Coreset.gradientMatching(k, 100);
        int[] idx = all.indices().clone();
        Arrays.sort(idx);
        assertEquals(30, idx.length);
        for (int i = 0; i < 30; i++) {
            assertEquals(i, idx[i]);
            assertEquals(1.0, all.weights()[i]);
        }
        assertEquals(0.0, all.error());
    }

    @Test
    void nnlsClampsWhatLeastSquaresWouldMakeNegative() {
        // x1 = (1, 0), x2 = (1, 1), target t = (2, -1): least squares gives t = 3 x1 - 1 x2; the
        // non-negative fit is 2 x1 (the projection of t on x1), and x2 correlates negatively with the rest
        double[][] k = {{1, 1}, {1, 2}};
        double[] b = {2, 1};
        assertArrayEquals(new double[] {2, 0}, Coreset.nnls(k, b, java.util.List.of(0, 1), 0), 1e-12);
        // with a target inside the cone both weights are positive and exact
        assertArrayEquals(new double[] {1, 2}, Coreset.nnls(k, new double[] {3, 5}, java.util.List.of(0, 1), 0), 1e-12);
    }

    @Test
    void coresetWeightsAreNeverNegative() {
        // zero-mean gradients: an unconstrained least-squares refit would weight some picks negatively
        Random r = new Random(3);
        double[][] f = new double[40][6];
        for (double[] row : f) {
            for (int c = 0; c < row.length; c++) {
                row[c] = r.nextGaussian();
            }
        }
        for (int budget : new int[] {1, 5, 10, 20}) {
            Coreset.Selection s = Coreset.gradientMatching(gram(f), budget);
            assertTrue(s.indices().length >= 1 && s.indices().length <= budget);
            for (double w : s.weights()) {
                assertTrue(w > 0, "budget " + budget + ": weight " + w);
            }
            assertTrue(s.error() < 1, "budget " + budget + ": error " + s.error());
        }
    }

    @Test
    void mmdOfIdenticalSetsIsZeroAndGreedyPicksDistinct() {
        double[][] x = {{1, 2}, {3, -1}, {0.5, 0.5}};
        assertEquals(0.0, Coreset.linearMmd(x, x.clone()), 0.0);
        assertEquals(0.0, Coreset.linearMmd(x, new int[] {0, 1, 2}), 1e-15);
        assertTrue(Coreset.linearMmd(x, new int[] {0}) > 0);
        // a (x2), b (x2): the best pair is one of each, with MMD 0
        double[][] dup = {{1, 0}, {1, 0}, {0, 1}, {0, 1}};
        Coreset.Selection s = Coreset.mmdGreedy(dup, 2);
        int[] picked = s.indices().clone();
        Arrays.sort(picked);
        assertArrayEquals(new int[] {0, 2}, picked);
        assertEquals(0.0, s.error(), 1e-15);
        assertEquals(4, Coreset.mmdGreedy(dup, 9).indices().length);
    }
}
