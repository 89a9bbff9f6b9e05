package org.distillery.rlkd.internal;

/**
 * The per-sample arithmetic of the policy-gradient samplers on plain arrays, exact and testable by
 * hand (double arithmetic, stored as float).
 * <ul>
 *   <li>GRPO's group-normalised advantage (Shao et al., DeepSeekMath, arXiv 2402.03300; KDRL §9):
 *       Â_i = (r_i − mean(r)) / (std(r) + ε) over the G samples of one prompt, std with Bessel's
 *       correction as TRL computes it (a group of one has std 0); without scaling (Dr. GRPO) r_i − mean(r);</li>
 *   <li>LLMR's reward-to-go (A8): G_t = Σ_{k≥t} r_k / denominator;</li>
 *   <li>KDRL's coefficient schedule: β linear from {@code start} to {@code end} over {@code rounds}
 *       rounds, then {@code end}; constant {@code start} when {@code rounds} is 0.</li>
 * </ul>
 */
final class PolicyMath {

    private PolicyMath() {
    }

    /** The group-normalised advantages of one group's rewards. */
    static float[] groupAdvantages(double[] rewards, boolean scale, double epsilon) {
        int g = rewards.length;
        double mean = 0;
        for (double r : rewards) {
            mean += r;
        }
        mean /= g;
        double sq = 0;
        for (double r : rewards) {
            sq += (r - mean) * (r - mean);
        }
        double std = g > 1 ? Math.sqrt(sq / (g - 1)) : 0;
        float[] a = new float[g];
        for (int i = 0; i < g; i++) {
            a[i] = (float) (scale ? (rewards[i] - mean) / (std + epsilon) : rewards[i] - mean);
        }
        return a;
    }

    /** G_t = Σ_{k≥t} r_k / denominator. */
    static float[] rewardToGo(float[] rewards, double denominator) {
        float[] g = new float[rewards.length];
        double acc = 0;
        for (int t = rewards.length - 1; t >= 0; t--) {
            acc += rewards[t];
            g[t] = (float) (acc / denominator);
        }
        return g;
    }

    /** β at {@code round}: linear from {@code start} to {@code end} over {@code rounds} rounds, then {@code end}. */
    static double beta(double start, double end, long rounds, long round) {
        if (rounds <= 0) {
            return start;
        }
        if (round >= rounds) {
            return end;
        }
        return start + (end - start) * round / rounds;
    }
}
