package org.distillery.charts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.api.Test;

class DownsampleTest {

    @Test
    void aShortCurveIsKeptWhole() {
        double[] y = {3, 1, 2};
        assertArrayEquals(new int[] {0, 1, 2}, Downsample.minMaxIndices(3, 10, y));
    }

    @Test
    void keepsEveryExtremeAndTheEndsWithinTheBudget() {
        int n = 100_000;
        double[] y = new double[n];
        Random r = new Random(7);
        for (int i = 0; i < n; i++) {
            y[i] = Math.exp(-i / 20000.0) + 0.01 * r.nextGaussian();
        }
        y[31_337] = 50;    // a loss spike
        y[77_777] = -3;    // and a dip
        y[5] = Double.NaN; // a skipped step
        int buckets = Downsample.bucketsFor(1000);
        int[] keep = Downsample.minMaxIndices(n, buckets, y);
        assertTrue(keep.length <= 2 * buckets + 2, "at most 2 per bucket plus the ends: " + keep.length);
        assertTrue(keep.length >= buckets, keep.length + " points");
        assertEquals(0, keep[0]);
        assertEquals(n - 1, keep[keep.length - 1]);
        for (int i = 1; i < keep.length; i++) {
            assertTrue(keep[i] > keep[i - 1], "ascending, no duplicates");
        }
        assertTrue(Arrays.binarySearch(keep, 31_337) >= 0, "the spike is kept");
        assertTrue(Arrays.binarySearch(keep, 77_777) >= 0, "the dip is kept");
        double[] kept = Downsample.pick(y, keep);
        double maxKept = Arrays.stream(kept).filter(Double::isFinite).max().orElseThrow();
        double minKept = Arrays.stream(kept).filter(Double::isFinite).min().orElseThrow();
        assertEquals(50, maxKept);
        assertEquals(-3, minKept);
        // every bucket's own min and max survive: the drawn envelope is the original's
        for (int b = 0; b < buckets; b++) {
            int from = (int) ((long) b * n / buckets);
            int to = (int) ((long) (b + 1) * n / buckets);
            double lo = Double.POSITIVE_INFINITY;
            double hi = Double.NEGATIVE_INFINITY;
            for (int i = from; i < to; i++) {
                if (Double.isFinite(y[i])) {
                    lo = Math.min(lo, y[i]);
                    hi = Math.max(hi, y[i]);
                }
            }
            double klo = Double.POSITIVE_INFINITY;
            double khi = Double.NEGATIVE_INFINITY;
            for (int k : keep) {
                if (k >= from && k < to && Double.isFinite(y[k])) {
                    klo = Math.min(klo, y[k]);
                    khi = Math.max(khi, y[k]);
                }
            }
            assertEquals(lo, klo, "bucket " + b + " min");
            assertEquals(hi, khi, "bucket " + b + " max");
        }
    }

    @Test
    void bandsKeepTheExtremesOfEveryEdge() {
        int n = 10_000;
        double[] mean = new double[n];
        double[] lower = new double[n];
        double[] upper = new double[n];
        for (int i = 0; i < n; i++) {
            mean[i] = 1;
            lower[i] = 0.9;
            upper[i] = 1.1;
        }
        upper[4321] = 7; // one seed diverged for a step: the band must show it
        lower[1234] = -7;
        int[] keep = Downsample.minMaxIndices(n, 50, mean, lower, upper);
        assertTrue(Arrays.binarySearch(keep, 4321) >= 0);
        assertTrue(Arrays.binarySearch(keep, 1234) >= 0);
        assertTrue(keep.length <= 6 * 50 + 2);
    }

    @Test
    void aBucketOfOnlyGapsKeepsOnePointSoTheGapShows() {
        double[] y = new double[1000];
        Arrays.fill(y, 1.0);
        Arrays.fill(y, 100, 200, Double.NaN);
        int[] keep = Downsample.minMaxIndices(y.length, 10, y);
        assertTrue(Arrays.stream(keep).anyMatch(i -> i >= 100 && i < 200 && Double.isNaN(y[i])));
    }
}
