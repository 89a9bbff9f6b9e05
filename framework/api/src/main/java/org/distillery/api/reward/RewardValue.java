package org.distillery.api.reward;

/**
 * A reward's judgement of one completion.
 *
 * @param value the reward of the whole response (for a dense reward, the sum of {@code tokenRewards})
 * @param tokenRewards a reward per response token (aligned with {@link Completion#responseIds()}),
 *     or {@code null} for a reward of the whole response only
 * @param verdict whether the response is correct, when the reward can tell
 */
public record RewardValue(double value, float[] tokenRewards, Verdict verdict) {

    /** Whether a response is correct. */
    public enum Verdict {
        /** The reward checked the response and it is right. */
        CORRECT,
        /** The reward checked the response and it is wrong (a format error included). */
        WRONG,
        /** The reward does not judge correctness (a preference or likelihood score). */
        UNKNOWN
    }

    /** A whole-response reward without a verdict. */
    public static RewardValue of(double value) {
        return new RewardValue(value, null, Verdict.UNKNOWN);
    }

    /** A whole-response reward of a checked response. */
    public static RewardValue checked(double value, boolean correct) {
        return new RewardValue(value, null, correct ? Verdict.CORRECT : Verdict.WRONG);
    }

    /** A dense reward: {@code value} is the sum of the token rewards. */
    public static RewardValue dense(float[] tokenRewards) {
        double sum = 0;
        for (float r : tokenRewards) {
            sum += r;
        }
        return new RewardValue(sum, tokenRewards, Verdict.UNKNOWN);
    }
}
