package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/** Group advantages, reward-to-go and the KDRL coefficient schedule against values worked out by hand. */
class PolicyMathTest {

    @Test
    void groupAdvantagesAreRewardMinusTheGroupMeanOverItsSampleStandardDeviation() {
        // rewards 1, 0, 0, 1: mean 0.5, squared deviations 4 x 0.25 = 1, variance 1 / 3 (Bessel), std = sqrt(1/3)
        double std = Math.sqrt(1.0 / 3);
        float a = (float) (0.5 / (std + 1e-4));
        assertArrayEquals(new float[] {a, -a, -a, a},
                PolicyMath.groupAdvantages(new double[] {1, 0, 0, 1}, true, 1e-4), 1e-6f);
        // 2, 0, 1: mean 1, deviations 1, -1, 0, variance 2 / 2 = 1
        assertArrayEquals(new float[] {(float) (1 / 1.0001), (float) (-1 / 1.0001), 0f},
                PolicyMath.groupAdvantages(new double[] {2, 0, 1}, true, 1e-4), 1e-6f);
        // Dr. GRPO: mean-centred only
        assertArrayEquals(new float[] {1f, -1f, 0f}, PolicyMath.groupAdvantages(new double[] {2, 0, 1}, false, 1e-4),
                1e-7f);
        // a group that all agree carries no signal
        assertArrayEquals(new float[] {0f, 0f, 0f, 0f},
                PolicyMath.groupAdvantages(new double[] {1, 1, 1, 1}, true, 1e-4), 0f);
    }

    @Test
    void rewardToGoSumsTheRewardsFromEachTokenOnAndDividesByTheDenominator() {
        assertArrayEquals(new float[] {3f, 2.5f, 1.5f}, PolicyMath.rewardToGo(new float[] {1, 2, 3}, 2), 1e-7f);
        assertArrayEquals(new float[] {-0.01f, 0.01f}, PolicyMath.rewardToGo(new float[] {-2, 1}, 100), 1e-7f);
        assertArrayEquals(new float[0], PolicyMath.rewardToGo(new float[0], 100), 0f);
    }

    @Test
    void betaAnnealsLinearlyOverTheRoundsThenStays() {
        assertEquals(5e-3, PolicyMath.beta(5e-3, 1e-3, 4, 0), 1e-12);
        assertEquals(4e-3, PolicyMath.beta(5e-3, 1e-3, 4, 1), 1e-12);
        assertEquals(3e-3, PolicyMath.beta(5e-3, 1e-3, 4, 2), 1e-12);
        assertEquals(1e-3, PolicyMath.beta(5e-3, 1e-3, 4, 4), 1e-12);
        assertEquals(1e-3, PolicyMath.beta(5e-3, 1e-3, 4, 40), 1e-12);
        assertEquals(5e-3, PolicyMath.beta(5e-3, 1e-3, 0, 7), 1e-12, "no anneal: constant");
    }
}
