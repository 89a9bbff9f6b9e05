package org.distillery.datagen.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Dataset distillation by selection (METHODS.md section 14, adapted from synthesising data to
 * choosing it, as CRAIG and GradMatch do): the selection math, on plain arrays.
 *
 * <ul>
 *   <li>{@link #gradientMatching}: orthogonal matching pursuit with non-negative weights, as
 *       GradMatch runs it (Killamsetty et al. 2021, {@code OrthogonalMP_REG(positive=True)}) on
 *       per-example gradients g_i: greedily add the example most correlated with the residual
 *       {@code sum_all g - sum_S w_j g_j}, refit the weights by non-negative least squares
 *       ({@link #nnls}), drop every chosen example whose weight the fit sets to 0 (it is not
 *       chosen again), repeat until the budget is filled or no example is left. Weights are
 *       therefore never negative, so they can weight a training loss. Only the Gram matrix
 *       K_ij = &lt;g_i, g_j&gt; is needed. An exact duplicate of a chosen example is taken only
 *       when nothing else is left, so duplicated data yields distinct picks.</li>
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
     * Greedy gradient matching of {@code budget} examples with non-negative weights (all of them,
     * with weight 1, when the budget covers the set).
     *
     * @param gram K_ij = &lt;g_i, g_j&gt;, symmetric N x N
     * @return the chosen indices (fewer than the budget only when every other example would get weight
     *     0), their non-negative weights (summing to about N) and the relative error
     *     {@code ||sum_S w g - sum_all g|| / ||sum_all g||}
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
        if (budget >= n) {
            double[] ones = new double[n];
            Arrays.fill(ones, 1.0);
            return new Selection(java.util.stream.IntStream.range(0, n).toArray(), ones, 0.0);
        }
        double ridge = 1e-9 * Math.max(meanDiag, 1e-30);
        int k = budget;
        List<Integer> chosen = new ArrayList<>();
        boolean[] excluded = new boolean[n];
        double[] w = new double[0];
        while (chosen.size() < k) {
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
                if (excluded[i]) {
                    continue;
                }
                boolean dup = duplicateOfChosen(gram, i, chosen);
                // a non-duplicate beats any duplicate; among equals the larger correlation, then the lower index
                if (best < 0 || (bestDuplicate && !dup) || (dup == bestDuplicate && residual[i] > residual[best])) {
                    best = i;
                    bestDuplicate = dup;
                }
            }
            if (best < 0) {
                break;
            }
            chosen.add(best);
            excluded[best] = true;
            double[] fit = nnls(gram, b, chosen, ridge);
            List<Integer> kept = new ArrayList<>();
            List<Double> keptWeights = new ArrayList<>();
            for (int s = 0; s < chosen.size(); s++) {
                if (fit[s] > 0) {
                    kept.add(chosen.get(s));
                    keptWeights.add(fit[s]);
                }
            }
            chosen = kept;
            w = keptWeights.stream().mapToDouble(Double::doubleValue).toArray();
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

    /**
     * Non-negative least squares in Gram form (Lawson and Hanson's active-set method): the
     * {@code w >= 0} minimising {@code ||sum_s w_s g_s - sum_all g||^2}, i.e.
     * {@code w^T (K_SS + ridge I) w - 2 w^T b_S}, over the examples {@code s}.
     */
    static double[] nnls(double[][] gram, double[] b, List<Integer> s, double ridge) {
        int m = s.size();
        double[][] a = new double[m][m];
        double[] c = new double[m];
        double scale = 0;
        for (int i = 0; i < m; i++) {
            c[i] = b[s.get(i)];
            for (int j = 0; j < m; j++) {
                a[i][j] = gram[s.get(i)][s.get(j)] + (i == j ? ridge : 0);
            }
            scale = Math.max(scale, Math.abs(a[i][i]));
        }
        double tol = 1e-12 * Math.max(scale, 1e-30) * Math.max(1, m);
        double[] w = new double[m];
        boolean[] passive = new boolean[m];
        for (int iteration = 0; iteration < 3 * m + 10; iteration++) {
            double[] gradient = negativeGradient(a, c, w);
            int enter = -1;
            for (int i = 0; i < m; i++) {
                if (!passive[i] && gradient[i] > tol && (enter < 0 || gradient[i] > gradient[enter])) {
                    enter = i;
                }
            }
            if (enter < 0) {
                break;
            }
            passive[enter] = true;
            while (true) {
                double[] z = solvePassive(a, c, passive);
                boolean feasible = true;
                for (int i = 0; i < m; i++) {
                    feasible &= !passive[i] || z[i] > 0;
                }
                if (feasible) {
                    w = z;
                    break;
                }
                double alpha = Double.POSITIVE_INFINITY;
                for (int i = 0; i < m; i++) {
                    if (passive[i] && z[i] <= 0) {
                        alpha = Math.min(alpha, w[i] / (w[i] - z[i]));
                    }
                }
                for (int i = 0; i < m; i++) {
                    w[i] += alpha * (z[i] - w[i]);
                    if (passive[i] && w[i] <= tol) {
                        passive[i] = false;
                        w[i] = 0;
                    }
                }
            }
        }
        return w;
    }

    private static double[] negativeGradient(double[][] a, double[] c, double[] w) {
        double[] g = c.clone();
        for (int i = 0; i < c.length; i++) {
            for (int j = 0; j < c.length; j++) {
                g[i] -= a[i][j] * w[j];
            }
        }
        return g;
    }

    /** Solves A_PP z_P = c_P by Cholesky (A is symmetric positive definite); z is 0 outside P. */
    private static double[] solvePassive(double[][] a, double[] c, boolean[] passive) {
        List<Integer> p = new ArrayList<>();
        for (int i = 0; i < passive.length; i++) {
            if (passive[i]) {
                p.add(i);
            }
        }
        int m = p.size();
        double[][] l = new double[m][m];
        for (int i = 0; i < m; i++) {
            for (int j = 0; j <= i; j++) {
                double sum = a[p.get(i)][p.get(j)];
                for (int q = 0; q < j; q++) {
                    sum -= l[i][q] * l[j][q];
                }
                if (i == j) {
                    l[i][i] = Math.sqrt(Math.max(sum, 1e-300));
                } else {
                    l[i][j] = sum / l[j][j];
                }
            }
        }
        double[] y = new double[m];
        for (int i = 0; i < m; i++) {
            double sum = c[p.get(i)];
            for (int q = 0; q < i; q++) {
                sum -= l[i][q] * y[q];
            }
            y[i] = sum / l[i][i];
        }
        double[] x = new double[m];
        for (int i = m - 1; i >= 0; i--) {
            double sum = y[i];
            for (int q = i + 1; q < m; q++) {
                sum -= l[q][i] * x[q];
            }
            x[i] = sum / l[i][i];
        }
        double[] z = new double[passive.length];
        for (int i = 0; i < m; i++) {
            z[p.get(i)] = x[i];
        }
        return z;
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
