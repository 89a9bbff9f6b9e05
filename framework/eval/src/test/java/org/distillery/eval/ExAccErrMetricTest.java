package org.distillery.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** ExAccErr's two ways of accumulating the error, on hand-built per-position errors. */
class ExAccErrMetricTest {

    // [prompt][sample][position]: prompt 0's first sample ends after two positions, prompt 1's
    // first sample after one and its second after two
    private static final double[][][] ERR = {
        {{0.5, 0.2, 0.0}, {0.4, 0.1, 0.3}},
        {{1.0, 0.0, 0.0}, {0.2, 0.2, 0.0}}};
    private static final double[][][] COUNTED = {
        {{1, 1, 0}, {1, 1, 1}},
        {{1, 0, 0}, {1, 1, 0}}};
    private static final double[][][] TEACHER_ERR = {
        {{0.1, 0.1, 0.1}, {0.2, 0.0, 0.0}},
        {{0.3, 0.1, 0.0}, {0.1, 0.0, 0.0}}};
    private static final double[][][] TEACHER_COUNTED = {
        {{1, 1, 1}, {1, 0, 0}},
        {{1, 1, 0}, {1, 0, 0}}};

    /**
     * LMOps evaluate_exposure_bias.py, step by step: per prompt, the sum over samples of err·mask
     * divided by (the sum of masks + 1e-3), its cumulative sum over positions, then the mean over
     * prompts; ExAccErr = (mean_R − mean_eps) / mean_eps · 100.
     */
    private static double[] reference(double[][][] err, double[][][] mask) {
        int prompts = err.length;
        int len = err[0][0].length;
        double[][] perPrompt = new double[prompts][len];
        for (int p = 0; p < prompts; p++) {
            double[] sumErr = new double[len];
            double[] sumMask = new double[len];
            for (int s = 0; s < err[p].length; s++) {
                for (int t = 0; t < len; t++) {
                    sumErr[t] += err[p][s][t] * mask[p][s][t];
                    sumMask[t] += mask[p][s][t];
                }
            }
            double cum = 0;
            for (int t = 0; t < len; t++) {
                cum += sumErr[t] / (sumMask[t] + 1e-3);
                perPrompt[p][t] = cum;
            }
        }
        double[] mean = new double[len];
        for (int t = 0; t < len; t++) {
            for (int p = 0; p < prompts; p++) {
                mean[t] += perPrompt[p][t] / prompts;
            }
        }
        return mean;
    }

    @Test
    void theReferenceAccumulationCountsFinishedSequencesAsZeroAndAveragesOverPrompts() {
        double[] r = ExAccErrMetric.accumulatedPerPrompt(new ExAccErrMetric.Errors(ERR, COUNTED), 3);
        double[] expected = reference(ERR, COUNTED);
        for (int t = 0; t < 3; t++) {
            assertEquals(expected[t], r[t], 1e-12, "R(" + (t + 1) + ")");
        }
        // by hand at l = 2: prompt 0 (0.9 + 0.3) / 2.001, prompt 1 1.2 / 2.001 + 0.2 / 1.001
        assertEquals(((0.9 + 0.3) / 2.001 + 1.2 / 2.001 + 0.2 / 1.001) / 2, r[1], 1e-12);
        double[] eps = ExAccErrMetric.accumulatedPerPrompt(new ExAccErrMetric.Errors(TEACHER_ERR, TEACHER_COUNTED), 3);
        double[] expectedEps = reference(TEACHER_ERR, TEACHER_COUNTED);
        for (int l = 1; l <= 3; l++) {
            double[] f = ExAccErrMetric.formula(r, eps, l);
            double want = (expected[l - 1] - expectedEps[l - 1]) / expectedEps[l - 1] * 100;
            assertEquals(want, f[0], 1e-9, "ExAccErr(" + l + ")");
            assertEquals(expected[l - 1], f[1], 1e-12);
            assertEquals(expectedEps[l - 1] / l, f[2], 1e-12);
        }
    }

    @Test
    void theAliveVariantAveragesEachPositionOverTheSequencesThatReachIt() {
        double[] r = ExAccErrMetric.accumulatedOverLive(new ExAccErrMetric.Errors(ERR, COUNTED), 3);
        double p1 = (0.5 + 0.4 + 1.0 + 0.2) / 4;
        double p2 = (0.2 + 0.1 + 0.2) / 3;
        double p3 = 0.3 / 1;
        assertEquals(p1, r[0], 1e-12);
        assertEquals(p1 + p2, r[1], 1e-12);
        assertEquals(p1 + p2 + p3, r[2], 1e-12);
    }
}
