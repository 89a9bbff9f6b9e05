package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Rewards, returns, length normalisation, whitening and importance weights against values computed by hand. */
class RolloutMathTest {

    private static final float EPS = 1e-6f;

    @Test
    void rewardIsTheScaledClippedLogRatio() {
        float[] logP = {-1.0f, -0.5f, -300f, -2.0f};
        float[] logQ = {-2.0f, -0.5f, -1.0f, -1.0f};
        // (log p - log q) / 0.5, clipped to +-100
        assertArrayEquals(new float[] {2.0f, 0.0f, -100f, -2.0f}, RolloutMath.rewards(logP, logQ, 0.5, 100), EPS);
        assertArrayEquals(new float[] {1.0f, 0.0f, -1.5f, -1.0f}, RolloutMath.rewards(logP, logQ, 1.0, 1.5), EPS);
    }

    @Test
    void returnsWithDiscountAndCurrentReward() {
        float[] r = {1, 2, 3};
        // code form: G_t = sum_{t' >= t} gamma^{t'-t} r_t', gamma = 0.5
        // G_2 = 3; G_1 = 2 + 0.5*3 = 3.5; G_0 = 1 + 0.5*3.5 = 2.75
        assertArrayEquals(new float[] {2.75f, 3.5f, 3f}, RolloutMath.returns(r, 0.5, true, false), EPS);
        // without discount: 6, 5, 3
        assertArrayEquals(new float[] {6f, 5f, 3f}, RolloutMath.returns(r, 1.0, true, false), EPS);
    }

    @Test
    void returnsWithoutCurrentRewardStartAtTheNextToken() {
        float[] r = {1, 2, 3};
        // paper form: R_{t+1} = sum_{t' > t} gamma^{t'-t-1} r_t'
        assertArrayEquals(new float[] {5f, 3f, 0f}, RolloutMath.returns(r, 1.0, false, false), EPS);
        // gamma = 0.5: R_1 = 2 + 0.5*3 = 3.5, R_2 = 3, R_3 = 0
        assertArrayEquals(new float[] {3.5f, 3f, 0f}, RolloutMath.returns(r, 0.5, false, false), EPS);
    }

    @Test
    void lengthNormalisationDividesByTheNumberOfSummedRewards() {
        float[] r = {1, 2, 3};
        // code: divide by tokens remaining including t: 6/3, 5/2, 3/1
        assertArrayEquals(new float[] {2f, 2.5f, 3f}, RolloutMath.returns(r, 1.0, true, true), EPS);
        // code defaults, gamma = 0.95: G_2 = 3, G_1 = 2 + 2.85 = 4.85, G_0 = 1 + 0.95*4.85 = 5.6075
        assertArrayEquals(new float[] {5.6075f / 3, 4.85f / 2, 3f}, RolloutMath.returns(r, 0.95, true, true), EPS);
        // paper: 1/(T-t-1) sum_{t'>t}: 5/2, 3/1, and 0 for the last token (an empty sum)
        assertArrayEquals(new float[] {2.5f, 3f, 0f}, RolloutMath.returns(r, 1.0, false, true), EPS);
    }

    @Test
    void whiteningUsesOneMeanAndDeviationOverTheWholeBuffer() {
        float[] a = {1, 2};
        float[] b = {3, 4, 5};
        RolloutMath.whiten(List.of(a, b));
        // mean 3, unbiased variance (4+1+0+1+4)/4 = 2.5
        double s = Math.sqrt(2.5 + RolloutMath.WHITEN_EPS);
        assertArrayEquals(new float[] {(float) (-2 / s), (float) (-1 / s)}, a, EPS);
        assertArrayEquals(new float[] {0f, (float) (1 / s), (float) (2 / s)}, b, EPS);
        float[] all = {a[0], a[1], b[0], b[1], b[2]};
        double mean = 0;
        for (float x : all) {
            mean += x / 5.0;
        }
        assertEquals(0.0, mean, 1e-6);
    }

    @Test
    void minibatchWhiteningCountsThePaddingAsZerosAsLmopsDoes() {
        float[] a = {1, 2};
        float[] b = {3, 4, 5};
        List<float[]> w = RolloutMath.whitenPadded(List.of(a, b));
        // LMOps: torch.var_mean over the padded [2, 3] block [[1, 2, 0], [3, 4, 5]]: mean 15/6 = 2.5,
        // unbiased variance (2.25 + 0.25 + 6.25 + 0.25 + 2.25 + 6.25) / 5 = 3.5
        double s = Math.sqrt(3.5 + RolloutMath.WHITEN_EPS);
        assertArrayEquals(new float[] {(float) (-1.5 / s), (float) (-0.5 / s)}, w.get(0), EPS);
        assertArrayEquals(new float[] {(float) (0.5 / s), (float) (1.5 / s), (float) (2.5 / s)}, w.get(1), EPS);
        // the inputs are left as they are (the buffer keeps the raw returns)
        assertArrayEquals(new float[] {1, 2}, a, 0f);
    }

    @Test
    void importanceWeightIsStudentOverMixture() {
        double p = 0.6;
        double q = 0.1;
        float[] w = RolloutMath.importance(new float[] {(float) Math.log(p)}, new float[] {(float) Math.log(q)}, 0.2);
        // w = q / (0.2 p + 0.8 q) = 0.1 / (0.12 + 0.08) = 0.5
        assertEquals(0.5f, w[0], EPS);
        // alpha = 0: sampled from q itself, w = 1; alpha = 1: w = q / p
        assertEquals(1f, RolloutMath.importance(new float[] {-1}, new float[] {-3}, 0.0)[0], EPS);
        assertEquals((float) Math.exp(-2), RolloutMath.importance(new float[] {-1}, new float[] {-3}, 1.0)[0], EPS);
        // log p~ stays finite and exact far in the tail
        assertEquals(-500 + Math.log(0.2 + 0.8 * Math.exp(-1)), RolloutMath.logMixed(-500, -501, 0.2), 1e-9);
    }
}
