package org.distillery.rlkd.internal;

/**
 * LLMR's teacher-induced reward on plain arrays (METHODS §8 and A8; Li, Hao, Mou, arXiv 2409.12500),
 * exact and testable by hand. The teacher's logits are read as soft Q-values: with z_s the logits
 * at state s (the prefix before a token), mean-centred (z − mean_v z),
 * <pre>
 *   Q(s_t, y_t) = z_{s_t}[y_t]
 *   V(s)        = Σ_v softmax(z_s)_v · z_{s,v}      (expectation)   or   max_v z_{s,v}   (max)
 *   r_t         = Q(s_t, y_t) − V(s_{t+1}),          V = 0 after eos (a terminal state)
 * </pre>
 * clipped to ±clip when clip &gt; 0. Arithmetic in double.
 */
final class LlmrMath {

    /** How the value of a state is read from its logits. */
    enum Value {
        /** The softmax-weighted mean of the centred logits. */
        EXPECTATION,
        /** The largest centred logit. */
        MAX
    }

    private LlmrMath() {
    }

    /**
     * Per-token rewards of one response.
     *
     * @param logits T + 1 rows: row t holds the teacher's logits at the state before response token
     *     t; row T those after the last token (read only when the response does not end in a terminal state)
     * @param tokens the T response tokens
     * @param terminal true when the last token ends the sequence (eos): V = 0 after it
     * @param value how V is read
     * @param clip clip the rewards to ±clip; 0 disables
     */
    static float[] rewards(float[][] logits, int[] tokens, boolean terminal, Value value, double clip) {
        int n = tokens.length;
        if (logits.length != n + 1) {
            throw new IllegalArgumentException("need " + (n + 1) + " rows of logits for " + n + " tokens, got "
                    + logits.length);
        }
        float[] r = new float[n];
        for (int t = 0; t < n; t++) {
            double q = centred(logits[t], tokens[t]);
            double v = t == n - 1 && terminal ? 0 : value(logits[t + 1], value);
            double x = q - v;
            if (clip > 0) {
                x = Math.max(-clip, Math.min(clip, x));
            }
            r[t] = (float) x;
        }
        return r;
    }

    /** z[token] − mean(z). */
    static double centred(float[] z, int token) {
        return z[token] - mean(z);
    }

    /** V of a state from its (raw) logits: the centred logits' softmax-weighted mean, or their maximum. */
    static double value(float[] z, Value value) {
        double mean = mean(z);
        double max = Double.NEGATIVE_INFINITY;
        for (float x : z) {
            max = Math.max(max, x);
        }
        if (value == Value.MAX) {
            return max - mean;
        }
        double norm = 0;
        double weighted = 0;
        for (float x : z) {
            double e = Math.exp(x - max);
            norm += e;
            weighted += e * (x - mean);
        }
        return weighted / norm;
    }

    private static double mean(float[] z) {
        double s = 0;
        for (float x : z) {
            s += x;
        }
        return s / z.length;
    }
}
