package org.distillery.minillm.internal;

import java.util.List;

/**
 * The per-token quantities MiniLLM stores with each rollout (Gu et al., arXiv 2306.08543;
 * reference code microsoft/LMOps {@code minillm/}), on plain arrays so they are exact and
 * testable by hand. Arithmetic is in double; results are stored as float.
 *
 * <ul>
 *   <li>reward r_t = clip((log p(y_t) − log q_old(y_t)) / reward-scaling, ±reward-clip);</li>
 *   <li>return: Σ_{t'≥t} γ^{t'−t} r_{t'} when the current reward is included (code), or
 *       Σ_{t'>t} γ^{t'−t−1} r_{t'} = R_{t+1} (paper);</li>
 *   <li>length normalisation divides each return by the number of rewards it sums (the tokens
 *       remaining including t in the code's form, T−t−1 in the paper's, where an empty sum is 0);</li>
 *   <li>whitening subtracts the mean and divides by the standard deviation:
 *       (A − mean)·(var + 1e-8)^(−1/2), var with Bessel's correction ({@code torch.var_mean}, as
 *       LMOps' {@code whiten}). LMOps whitens each PPO minibatch's advantages inside its loss, over
 *       the padded [rows, response length] block without a mask, so padding positions enter the
 *       statistics as zeros ({@link #whitenPadded}); {@link #whiten} uses every real token of a
 *       set of responses (the whole buffer, Distillery's earlier choice);</li>
 *   <li>teacher-mixed probability p̃ = α·p + (1−α)·q_old and importance weight w_t = q_old(y_t)/p̃(y_t).</li>
 * </ul>
 */
final class RolloutMath {

    /** Added to the variance before the square root, as in the reference code. */
    static final double WHITEN_EPS = 1e-8;

    private RolloutMath() {
    }

    /** Per-token rewards from teacher and student log-probabilities of the sampled tokens. */
    static float[] rewards(float[] teacherLogProbs, float[] studentLogProbs, double rewardScaling, double rewardClip) {
        float[] r = new float[teacherLogProbs.length];
        for (int t = 0; t < r.length; t++) {
            double v = ((double) teacherLogProbs[t] - studentLogProbs[t]) / rewardScaling;
            r[t] = (float) Math.max(-rewardClip, Math.min(rewardClip, v));
        }
        return r;
    }

    /**
     * Long-term returns of one response, before whitening.
     *
     * @param rewards r_0..r_{T−1}
     * @param gamma discount γ in [0, 1]
     * @param includeCurrent sum from t (code) instead of t+1 (paper)
     * @param lengthNorm divide by the number of summed rewards
     */
    static float[] returns(float[] rewards, double gamma, boolean includeCurrent, boolean lengthNorm) {
        int n = rewards.length;
        double[] fromT = new double[n + 1];
        for (int t = n - 1; t >= 0; t--) {
            fromT[t] = rewards[t] + gamma * fromT[t + 1];
        }
        float[] out = new float[n];
        for (int t = 0; t < n; t++) {
            double sum = includeCurrent ? fromT[t] : fromT[t + 1];
            int terms = includeCurrent ? n - t : n - t - 1;
            out[t] = (float) (lengthNorm ? (terms == 0 ? 0 : sum / terms) : sum);
        }
        return out;
    }

    /** Whitens every value of every array in place, with one mean and deviation over all of them. */
    static void whiten(List<float[]> values) {
        long n = 0;
        double sum = 0;
        for (float[] v : values) {
            for (float x : v) {
                sum += x;
                n++;
            }
        }
        if (n == 0) {
            return;
        }
        double mean = sum / n;
        double sq = 0;
        for (float[] v : values) {
            for (float x : v) {
                sq += (x - mean) * (x - mean);
            }
        }
        double var = n > 1 ? sq / (n - 1) : 0;
        double scale = 1 / Math.sqrt(var + WHITEN_EPS);
        for (float[] v : values) {
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) ((v[i] - mean) * scale);
            }
        }
    }

    /**
     * Whitened copies of {@code values} with the statistics of the block they form when padded
     * with zeros to the longest: mean and unbiased variance over rows × longest length entries
     * (LMOps' per-minibatch whitening of the padded advantage tensor).
     */
    static List<float[]> whitenPadded(List<float[]> values) {
        int longest = 0;
        double sum = 0;
        for (float[] v : values) {
            longest = Math.max(longest, v.length);
            for (float x : v) {
                sum += x;
            }
        }
        long n = (long) longest * values.size();
        List<float[]> out = new java.util.ArrayList<>(values.size());
        if (n == 0) {
            values.forEach(v -> out.add(v.clone()));
            return out;
        }
        double mean = sum / n;
        double sq = 0;
        for (float[] v : values) {
            for (float x : v) {
                sq += (x - mean) * (x - mean);
            }
            sq += (longest - v.length) * mean * mean;
        }
        double var = n > 1 ? sq / (n - 1) : 0;
        double scale = 1 / Math.sqrt(var + WHITEN_EPS);
        for (float[] v : values) {
            float[] w = new float[v.length];
            for (int i = 0; i < v.length; i++) {
                w[i] = (float) ((v[i] - mean) * scale);
            }
            out.add(w);
        }
        return out;
    }

    /** log p̃ = log(α·p + (1−α)·q) of each token, computed stably. */
    static double logMixed(double teacherLogProb, double studentLogProb, double alpha) {
        if (alpha <= 0) {
            return studentLogProb;
        }
        if (alpha >= 1) {
            return teacherLogProb;
        }
        double a = Math.log(alpha) + teacherLogProb;
        double b = Math.log1p(-alpha) + studentLogProb;
        double hi = Math.max(a, b);
        if (hi == Double.NEGATIVE_INFINITY) {
            return hi;
        }
        return hi + Math.log(Math.exp(a - hi) + Math.exp(b - hi));
    }

    /** Importance weights w_t = exp(log q_old − log p̃). */
    static float[] importance(float[] teacherLogProbs, float[] studentLogProbs, double alpha) {
        float[] w = new float[studentLogProbs.length];
        for (int t = 0; t < w.length; t++) {
            w[t] = (float) Math.exp(studentLogProbs[t] - logMixed(teacherLogProbs[t], studentLogProbs[t], alpha));
        }
        return w;
    }
}
