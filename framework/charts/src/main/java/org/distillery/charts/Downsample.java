package org.distillery.charts;

/**
 * Picks the points of a curve worth drawing when it has more than a chart can show: min/max per
 * bucket. The points, in x order, are cut into {@code buckets} runs of (nearly) equal length;
 * from each run the point with the smallest and the one with the largest y are kept (in their
 * original order), plus the first and last point of the curve. A line through the kept points
 * reaches every extreme of the original at the resolution of the buckets, so spikes (a loss
 * jump, a gradient-norm outlier) survive, unlike averaging or striding. This is the M4 idea
 * (Jugel et al., VLDB 2014) without the first/last point of every bucket.
 *
 * <p>At most {@code 2 * buckets + 2} points are kept; a curve with no more points than that is
 * kept whole. Non-finite y values (NaN, infinities) are never a bucket's min or max, but a bucket
 * of only such values keeps its first point so that the gap stays visible.
 */
public final class Downsample {

    private Downsample() {
    }

    /**
     * Indices (ascending) of the points to keep of curve {@code y} (any number of curves sharing
     * the x positions: a point is kept when it is an extreme of any of them, so a band's lower and
     * upper edges keep their extremes too).
     *
     * @param n the number of points
     * @param buckets how many buckets (at most {@code 2 * buckets * ys.length + 2} points are kept)
     * @param ys the curves, each at least {@code n} long
     */
    public static int[] minMaxIndices(int n, int buckets, double[]... ys) {
        if (buckets < 1) {
            throw new IllegalArgumentException("buckets must be >= 1, got " + buckets);
        }
        int per = ys.length == 0 ? 2 : 2 * ys.length;
        if (n <= per * buckets + 2) {
            int[] all = new int[n];
            for (int i = 0; i < n; i++) {
                all[i] = i;
            }
            return all;
        }
        boolean[] keep = new boolean[n];
        keep[0] = true;
        keep[n - 1] = true;
        for (int b = 0; b < buckets; b++) {
            int from = (int) ((long) b * n / buckets);
            int to = (int) ((long) (b + 1) * n / buckets);
            if (from >= to) {
                continue;
            }
            boolean anyFinite = false;
            for (double[] y : ys) {
                int lo = -1;
                int hi = -1;
                for (int i = from; i < to; i++) {
                    double v = y[i];
                    if (!Double.isFinite(v)) {
                        continue;
                    }
                    if (lo < 0 || v < y[lo]) {
                        lo = i;
                    }
                    if (hi < 0 || v > y[hi]) {
                        hi = i;
                    }
                }
                if (lo >= 0) {
                    keep[lo] = true;
                    keep[hi] = true;
                    anyFinite = true;
                }
            }
            if (!anyFinite) {
                keep[from] = true;
            }
        }
        int count = 0;
        for (boolean k : keep) {
            if (k) {
                count++;
            }
        }
        int[] out = new int[count];
        int j = 0;
        for (int i = 0; i < n; i++) {
            if (keep[i]) {
                out[j++] = i;
            }
        }
        return out;
    }

    /** {@code values} at {@code indices}. */
    public static double[] pick(double[] values, int[] indices) {
        double[] out = new double[indices.length];
        for (int i = 0; i < indices.length; i++) {
            out[i] = values[indices[i]];
        }
        return out;
    }

    /** The buckets for a budget of {@code maxPoints} points per curve (at least 1). */
    public static int bucketsFor(int maxPoints) {
        return Math.max(1, (maxPoints - 2) / 2);
    }
}
