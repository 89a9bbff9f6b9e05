package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** LLMR's reward Q_t − V_{t+1} on a hand-built logit table. */
class LlmrMathTest {

    // three states over a vocabulary of three: before token 0, before token 1, after token 1
    private static final float[][] TABLE = {
        {1, 2, 3},   // centred -1, 0, 1
        {0, 0, 0},   // centred 0, 0, 0: V = 0 either way
        {2, 0, 1},   // centred 1, -1, 0
    };
    private static final int[] TOKENS = {0, 2};

    /** V of the last state by hand: softmax weights e^2, e^0, e^1 on the centred logits 1, -1, 0. */
    private static final double V_LAST = (Math.exp(2) * 1 + Math.exp(0) * -1 + Math.exp(1) * 0)
            / (Math.exp(2) + Math.exp(0) + Math.exp(1));

    @Test
    void rewardIsTheCentredLogitOfTheTokenMinusTheNextStatesValue() {
        // r_0 = c_0[0] - V(s_1) = -1 - 0; r_1 = c_1[2] - V(s_2) = 0 - V_LAST
        assertArrayEquals(new float[] {-1f, (float) -V_LAST},
                LlmrMath.rewards(TABLE, TOKENS, false, LlmrMath.Value.EXPECTATION, 0), 1e-6f);
        assertEquals(0.5752, V_LAST, 1e-4, "the hand value itself");
    }

    @Test
    void afterEosTheValueIsZero() {
        assertArrayEquals(new float[] {-1f, 0f}, LlmrMath.rewards(TABLE, TOKENS, true, LlmrMath.Value.EXPECTATION, 0),
                1e-6f);
    }

    @Test
    void theMaxValueAndTheClipAreApplied() {
        // V(s_2) = max centred logit = 1
        assertArrayEquals(new float[] {-1f, -1f}, LlmrMath.rewards(TABLE, TOKENS, false, LlmrMath.Value.MAX, 0), 1e-6f);
        assertArrayEquals(new float[] {-0.5f, -0.5f},
                LlmrMath.rewards(TABLE, TOKENS, false, LlmrMath.Value.EXPECTATION, 0.5), 1e-6f);
    }

    @Test
    void aOneTokenResponseEndingInEosEarnsItsCentredLogit() {
        // c_0 = z - mean(z) = z - 1; the token is 2: 3 - 1
        float[][] one = {{0.5f, -0.5f, 3f}, {0, 0, 0}};
        assertEquals(3f - (3f / 3), LlmrMath.rewards(one, new int[] {2}, true, LlmrMath.Value.EXPECTATION, 0)[0], 1e-6f);
    }

    @Test
    void theTableMustCoverEveryTokenAndTheFinalState() {
        assertThrows(IllegalArgumentException.class,
                () -> LlmrMath.rewards(new float[2][3], new int[] {0, 1}, false, LlmrMath.Value.MAX, 0));
    }
}
