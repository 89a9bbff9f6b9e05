package org.distillery.datagen.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Dataset distillation by selection (METHODS.md section 14, adapted from synthesising data to
 * choosing it, as CRAIG and GradMatch do): the selection math, on plain arrays.
 *
 * <ul>
 *   <li>{@link #gradientMatching}: orthogonal matching pursuit (GradMatch, Killamsetty et al.
 *       2021) on per-example gradients g_i: greedily add the example most correlated with the
 *       residual {@code sum_all g - sum_S w_j g_j}, refit the weights w by least squares, repeat.
 *       Only the Gram matrix K_ij = &lt;g_i, g_j&gt; is needed. An exact duplicate of a chosen example
 *       is taken only when nothing else is left, so duplicated data yields distinct picks.</li>
 *   <li>{@link #mmdGreedy}: distribution matching (Zhao and Bilen's DM objective, MMD with a linear
 *       kernel): greedily add the example that brings the subset's mean embedding closest to the
 *       full set's, i.e. minimises {@code ||mean_S phi - mean_all phi||^2} (kernel herding).</li>
 * </ul>
 */
final class Coreset {

    /** A selection: indices into the full set (in selection order), their weights and the matching error. */
    record Selection(int[] indices, double[] weights, double error) {
    }

    private Coreset() {
    }

    /**
     * Greedy gradient matching of {@code budget} examples (all of them when the budget covers the set).
     *
     * @param gram K_ij = &lt;g_i, g_j&gt;, symmetric N x N
     * @return the chosen indices, their least-squares weights (summing to about N) and the relative
     *     error {@code ||sum_S w g - sum_all g|| / ||sum_all g||}
     */
    static Selection gradientMatching(double[][] gram, int budget) {
        int n = gram.length;
        double[] b = new double[n];
        double total = 0;
        double meanDiag = 0;
        for (int i = 0; i < n; i++) {
            for (int j = 0; j < n; j++) {
                b[i] += gram[i][j];
            }
            total += b[i];
            meanDiag += gram[i][i] / n;
        }
        double ridge = 1e-9 * Math.max(meanDiag, 1e-30);
        int k = Math.min(budget, n);
        List<Integer> chosen = new ArrayList<>();
        boolean[] taken = new boolean[n];
        double[] w = new double[0];
        for (int step = 0; step < k; step++) {
            double[] residual = b.clone();
            for (int s = 0; s < chosen.size(); s++) {
                int j = chosen.get(s);
                for (int i = 0; i < n; i++) {
                    residual[i] -= w[s] * gram[i][j];
                }
            }
            int best = -1;
            boolean bestDuplicate = true;
            for (int i = 0; i < n; i++) {
                if (taken[i]) {
                    continue;
                }
                boolean dup = duplicateOfChosen(gram, i, chosen);
                // a non-duplicate beats any duplicate; among equals the larger correlation, then the lower index
                if (best < 0 || (bestDuplicate && !dup) || (dup == bestDuplicate && residual[i] > residual[best])) {
                    best = i;
                    bestDuplicate = dup;
                }
            }
            chosen.add(best);
            taken[best] = true;
            w = leastSquares(gram, b, chosen, ridge);
        }
        double fit = 0;
        double cross = 0;
        for (int s = 0; s < chosen.size(); s++) {
            cross += w[s] * b[chosen.get(s)];
            for (int t = 0; t < chosen.size(); t++) {
                fit += w[s] * w[t] * gram[chosen.get(s)][chosen.get(t)];
            }
        }
        double err2 = Math.max(0, total - 2 * cross + fit);
        double error = total <= 0 ? 0 : Math.sqrt(err2 / total);
        return new Selection(chosen.stream().mapToInt(Integer::intValue).toArray(), w, error);
    }

    private static boolean duplicateOfChosen(double[][] k, int i, List<Integer> chosen) {
        for (int j : chosen) {
            double d = k[i][i] + k[j][j] - 2 * k[i][j];
            if (d <= 1e-5 * Math.max(1e-30, k[i][i] + k[j][j])) {
                return true;
            }
        }
        return false;
    }

    /** Solves (K_SS + ridge I) w = b_S by Cholesky. */
    private static double[] leastSquares(double[][] gram, double[] b, List<Integer> s, double ridge) {
        int m = s.size();
        double[][] l = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = gram[s.get(i)][s.get(j)] + (i == j ? ridge : 0);
                for (int p = 0; p < j; p++) {
                    sum -= l[i][p] * l[j][p];
                }
                if (i == j) {
                    l[i][i] = Math.sqrt(Math.max(sum, ridge));
                } else {
                    l[i][j] = sum / l[j][j];
                }
            }
        }
        double[] y = new double[m];
        for (int i = 0; i < m; i++) {
            double sum = b[s.get(i)];
            for (int p = 0; p < i; p++) {
                sum -= l[i][p] * y[p];
            }
            y[i] = sum / l[i][i];
        }
        double[] x = new double[m];
        for (int i = m - 1; i >= 0; i--) {
            double sum = y[i];
            for (int p = i + 1; p < m; p++) {
                sum -= l[p][i] * x[p];
            }
            x[i] = sum / l[i][i];
        }
        return x;
    }

    /**
     * Greedy MMD (linear kernel) selection of {@code budget} rows of {@code features}.
     *
     * @return the chosen indices, unit weights, and the final squared MMD between subset and full set
     */
    static Selection mmdGreedy(double[][] features, int budget) {
        int n = features.length;
        int d = n == 0 ? 0 : features[0].length;
        double[] mu = mean(features, null);
        int k = Math.min(budget, n);
        double[] sum = new double[d];
        boolean[] taken = new boolean[n];
        int[] chosen = new int[k];
        for (int step = 0; step < k; step++) {
            int best = -1;
            double bestDist = Double.POSITIVE_INFINITY;
            for (int i = 0; i < n; i++) {
                if (taken[i]) {
                    continue;
                }
                double dist = 0;
                for (int c = 0; c < d; c++) {
                    double v = sum[c] + features[i][c] - (step + 1) * mu[c];
                    dist += v * v;
                }
                if (dist < bestDist) {
                    bestDist = dist;
                    best = i;
                }
            }
            chosen[step] = best;
            taken[best] = true;
            for (int c = 0; c < d; c++) {
                sum[c] += features[best][c];
            }
        }
        double[] ones = new double[k];
        Arrays.fill(ones, 1.0);
        return new Selection(chosen, ones, k == 0 ? 0 : linearMmd(features, chosen));
    }

    /** Squared MMD with a linear kernel between all rows and the rows {@code subset}: ||mean_S - mean_all||^2. */
    static double linearMmd(double[][] features, int[] subset) {
        double[] a = mean(features, null);
        double[] b = mean(features, subset);
        double s = 0;
        for (int c = 0; c < a.length; c++) {
            s += (a[c] - b[c]) * (a[c] - b[c]);
        }
        return s;
    }

    /** Squared MMD with a linear kernel between two sets of rows. */
    static double linearMmd(double[][] x, double[][] y) {
        double[] a = mean(x, null);
        double[] b = mean(y, null);
        double s = 0;
        for (int c = 0; c < a.length; c++) {
            s += (a[c] - b[c]) * (a[c] - b[c]);
        }
        return s;
    }

    private static double[] mean(double[][] rows, int[] subset) {
        int d = rows.length == 0 ? 0 : rows[0].length;
        double[] m = new double[d];
        int count = subset == null ? rows.length : subset.length;
        for (int r = 0; r < count; r++) {
            double[] row = rows[subset == null ? r : subset[r]];
            for (int c = 0; c < d; c++) {
                m[c] += row[c] / count;
            }
        }
        return m;
    }
}
