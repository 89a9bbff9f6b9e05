package org.distillery.kdcore.internal;

/**
 * Independent reference for the golden values: plain Java, double precision, naive loops
 * over rows, positions and vocabulary entries, written from the formulas in METHODS.md and the
 * loss Javadoc, sharing no code with the losses under test. Mixtures are computed directly as
 * log(w₁·p + w₂·q) rather than in log space, and gradients by central finite differences.
 */
final class ReferenceLosses {

    private ReferenceLosses() {
    }

    /** The divergences, by registry key. */
    enum Divergence { FORWARD_KL, REVERSE_KL, JSD, TVD, SKEW_KL, SKEW_RKL }

    /** log softmax(z / tau); -inf entries stay -inf. */
    static double[] logSoftmax(double[] z, double tau) {
        double max = Double.NEGATIVE_INFINITY;
        for (double x : z) {
            if (!Double.isInfinite(x)) {
                max = Math.max(max, x / tau);
            }
        }
        double sum = 0;
        for (double x : z) {
            sum += Math.exp(x / tau - max);
        }
        double logZ = max + Math.log(sum);
        double[] out = new double[z.length];
        for (int i = 0; i < z.length; i++) {
            out[i] = z[i] / tau - logZ;
        }
        return out;
    }

    /**
     * One position's divergence over bins, skipping entries where either log-probability
     * is infinite (METHODS.md general rule).
     */
    static double divergence(Divergence d, double param, double[] lp, double[] lq) {
        double total = 0;
        for (int i = 0; i < lp.length; i++) {
            if (Double.isInfinite(lp[i]) || Double.isInfinite(lq[i])) {
                continue;
            }
            double p = Math.exp(lp[i]);
            double q = Math.exp(lq[i]);
            total += switch (d) {
                case FORWARD_KL -> p * (lp[i] - lq[i]);
                case REVERSE_KL -> q * (lq[i] - lp[i]);
                case JSD -> {
                    if (param == 0) {
                        yield p * (lp[i] - lq[i]);
                    }
                    if (param == 1) {
                        yield q * (lq[i] - lp[i]);
                    }
                    double m = param * p + (1 - param) * q;
                    yield param * p * (lp[i] - Math.log(m)) + (1 - param) * q * (lq[i] - Math.log(m));
                }
                case TVD -> 0.5 * Math.abs(p - q);
                case SKEW_KL -> p * (lp[i] - Math.log(param * p + (1 - param) * q));
                case SKEW_RKL -> q * (lq[i] - Math.log((1 - param) * p + param * q));
            };
        }
        return total;
    }

    /** τ² · Σ over masked positions of the divergence, the teacher given by full logits. */
    static double fullVocab(Divergence d, double param, double tau, Fixture f, double[] student) {
        double total = 0;
        for (int p = 0; p < f.b() * f.t(); p++) {
            if (f.mask()[p] == 0) {
                continue;
            }
            double[] zs = row(student, p, f.v());
            double[] zt = row(toDouble(f.teacher()), p, f.v());
            double[] lq = logSoftmax(zs, tau);
            double[] lp = logSoftmax(zt, tau);
            for (int x = 0; x < f.v(); x++) {
                if (Double.isInfinite(zs[x]) || Double.isInfinite(zt[x])) {
                    lp[x] = Double.NEGATIVE_INFINITY;
                }
            }
            total += f.mask()[p] * divergence(d, param, lp, lq);
        }
        return tau * tau * total;
    }

    /**
     * τ² · Σ over masked positions of the divergence over k + 1 bins: the teacher's top-k
     * entries and its rest mass (tempered by τ and renormalised), the student's probabilities of
     * the same ids and its rest mass 1 − Σ_k q.
     */
    static double topK(Divergence d, double param, double tau, Fixture f, double[] student) {
        int k = f.k();
        double total = 0;
        for (int p = 0; p < f.b() * f.t(); p++) {
            if (f.mask()[p] == 0) {
                continue;
            }
            double[] bins = new double[k + 1];
            for (int j = 0; j < k; j++) {
                bins[j] = f.topLogProbs()[p * k + j];
            }
            bins[k] = f.restLogMass()[p];
            double[] lp = logSoftmax(bins, tau);
            double[] lqFull = logSoftmax(row(student, p, f.v()), tau);
            double[] lq = new double[k + 1];
            double top = 0;
            for (int j = 0; j < k; j++) {
                lq[j] = lqFull[(int) f.topIds()[p * k + j]];
                top += Math.exp(lq[j]);
            }
            lq[k] = Math.log(Math.max(1 - top, 1e-30));
            total += f.mask()[p] * divergence(d, param, lp, lq);
        }
        return tau * tau * total;
    }

    /** Σ over masked positions of (1−ε)(−log q(y)) + ε · mean over finite entries of (−log q). */
    static double crossEntropy(double smoothing, Fixture f, double[] student) {
        double total = 0;
        for (int p = 0; p < f.b() * f.t(); p++) {
            if (f.mask()[p] == 0) {
                continue;
            }
            double[] lq = logSoftmax(row(student, p, f.v()), 1.0);
            double nll = -lq[(int) f.targets()[p]];
            double sum = 0;
            int finite = 0;
            for (double x : lq) {
                if (!Double.isInfinite(x)) {
                    sum += -x;
                    finite++;
                }
            }
            total += f.mask()[p] * ((1 - smoothing) * nll + smoothing * sum / finite);
        }
        return total;
    }

    /**
     * Hidden-state loss: mean over pairs of Σ_tokens mask · (‖h_S W − h_T‖² / d_T) or
     * mask · (1 − cos(h_S W, h_T)); {@code w[pair]} is [dS × dT] row-major or {@code null}.
     */
    static double hidden(boolean cosine, int[][] pairs, double[][] w, double[][] studentHidden, int dS,
                         double[][] teacherHidden, int dT, float[] mask) {
        double total = 0;
        for (int m = 0; m < pairs.length; m++) {
            double[] hs = studentHidden[pairs[m][0]];
            double[] ht = teacherHidden[pairs[m][1]];
            for (int p = 0; p < mask.length; p++) {
                double[] x = new double[dT];
                for (int j = 0; j < dT; j++) {
                    if (w[m] == null) {
                        x[j] = hs[p * dS + j];
                    } else {
                        for (int i = 0; i < dS; i++) {
                            x[j] += hs[p * dS + i] * w[m][i * dT + j];
                        }
                    }
                }
                double dot = 0;
                double xx = 0;
                double yy = 0;
                double se = 0;
                for (int j = 0; j < dT; j++) {
                    double y = ht[p * dT + j];
                    dot += x[j] * y;
                    xx += x[j] * x[j];
                    yy += y * y;
                    se += (x[j] - y) * (x[j] - y);
                }
                double perToken = cosine ? 1 - dot / Math.max(Math.sqrt(xx) * Math.sqrt(yy), 1e-8) : se / dT;
                total += mask[p] * perToken;
            }
        }
        return total / pairs.length;
    }

    /** A loss of the student logits (or hidden states), for finite differences. */
    interface Objective {
        /** The loss at {@code x}. */
        double at(double[] x);
    }

    /** Central finite differences, step h; infinite inputs get gradient 0. */
    static double[] gradient(Objective f, double[] x, double h) {
        double[] g = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            if (Double.isInfinite(x[i])) {
                continue;
            }
            double keep = x[i];
            x[i] = keep + h;
            double up = f.at(x);
            x[i] = keep - h;
            double down = f.at(x);
            x[i] = keep;
            g[i] = (up - down) / (2 * h);
        }
        return g;
    }

    static double[] toDouble(float[] x) {
        double[] out = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            out[i] = x[i];
        }
        return out;
    }

    private static double[] row(double[] logits, int position, int v) {
        double[] out = new double[v];
        System.arraycopy(logits, position * v, out, 0, v);
        return out;
    }
}
