package org.distillery.eval;

/** Expected calibration error over equal-width confidence bins. */
public final class Calibration {

    private Calibration() {
    }

    /**
     * {@code ECE = Σ_b (|B_b| / n) · |acc(B_b) − conf(B_b)|}, where bin {@code b} of {@code bins}
     * equal-width bins over [0, 1] holds the predictions with confidence in
     * {@code [b/bins, (b+1)/bins)} (the last bin also holds confidence 1).
     *
     * @param confidence the confidence of each prediction, in [0, 1]
     * @param correct whether each prediction was right
     * @return the ECE in [0, 1]; NaN for no predictions
     */
    public static double ece(double[] confidence, boolean[] correct, int bins) {
        if (confidence.length != correct.length) {
            throw new IllegalArgumentException("confidence and correct differ in length");
        }
        if (bins < 1) {
            throw new IllegalArgumentException("bins must be >= 1, got " + bins);
        }
        int n = confidence.length;
        if (n == 0) {
            return Double.NaN;
        }
        double[] confSum = new double[bins];
        double[] accSum = new double[bins];
        int[] count = new int[bins];
        for (int i = 0; i < n; i++) {
            int b = bin(confidence[i], bins);
            confSum[b] += confidence[i];
            accSum[b] += correct[i] ? 1 : 0;
            count[b]++;
        }
        double ece = 0;
        for (int b = 0; b < bins; b++) {
            if (count[b] > 0) {
                ece += (double) count[b] / n * Math.abs(accSum[b] / count[b] - confSum[b] / count[b]);
            }
        }
        return ece;
    }

    /** The bin of a confidence value. */
    static int bin(double confidence, int bins) {
        int b = (int) Math.floor(confidence * bins);
        return Math.max(0, Math.min(bins - 1, b));
    }
}
