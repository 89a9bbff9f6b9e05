package org.distillery.moe.internal;

/**
 * Thin singular value decomposition by one-sided Jacobi rotations (Hestenes 1958) in double
 * precision. DJL 0.36 exposes no SVD, and the matrices here (one expert's projection) are
 * small: the cost is O(sweeps · n² · m) for an m × n matrix with m ≥ n. Deterministic: the
 * sweep order, the stopping rule and the ordering of equal singular values are fixed.
 */
final class Svd {

    private static final int MAX_SWEEPS = 80;
    private static final double TOLERANCE = 1e-15;

    /**
     * A = U · diag(s) · Vᵀ with s sorted in decreasing order (equal values keep column order).
     *
     * @param u [m][k] left singular vectors as columns
     * @param s [k] singular values, k = min(m, n)
     * @param v [n][k] right singular vectors as columns
     */
    record Result(double[][] u, double[] s, double[][] v) {

        /** Σ_{j < rank} s_j u_j v_jᵀ, the best rank-{@code rank} approximation. */
        double[][] reconstruct(int rank) {
            int m = u.length;
            int n = v.length;
            int r = Math.min(rank, s.length);
            double[][] out = new double[m][n];
            for (int j = 0; j < r; j++) {
                for (int i = 0; i < m; i++) {
                    double a = u[i][j] * s[j];
                    if (a == 0) {
                        continue;
                    }
                    double[] row = out[i];
                    for (int c = 0; c < n; c++) {
                        row[c] += a * v[c][j];
                    }
                }
            }
            return out;
        }
    }

    private Svd() {
    }

    /** Decomposes {@code a} [m][n]. */
    static Result of(double[][] a) {
        int m = a.length;
        int n = a[0].length;
        if (m < n) {
            Result t = of(transpose(a));
            return new Result(t.v(), t.s(), t.u());
        }
        // columns of a as rows of w, so rotations touch contiguous memory
        double[][] w = transpose(a);
        double[][] vt = new double[n][n];
        for (int i = 0; i < n; i++) {
            vt[i][i] = 1;
        }
        for (int sweep = 0; sweep < MAX_SWEEPS; sweep++) {
            boolean rotated = false;
            for (int p = 0; p < n - 1; p++) {
                for (int q = p + 1; q < n; q++) {
                    double alpha = dot(w[p], w[p]);
                    double beta = dot(w[q], w[q]);
                    double gamma = dot(w[p], w[q]);
                    if (gamma == 0 || Math.abs(gamma) <= TOLERANCE * Math.sqrt(alpha * beta)) {
                        continue;
                    }
                    rotated = true;
                    double zeta = (beta - alpha) / (2 * gamma);
                    double t = Math.signum(zeta == 0 ? 1 : zeta) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
                    double c = 1 / Math.sqrt(1 + t * t);
                    double s = c * t;
                    rotate(w[p], w[q], c, s);
                    rotate(vt[p], vt[q], c, s);
                }
            }
            if (!rotated) {
                break;
            }
        }
        double[] sigma = new double[n];
        Integer[] order = new Integer[n];
        for (int j = 0; j < n; j++) {
            sigma[j] = Math.sqrt(dot(w[j], w[j]));
            order[j] = j;
        }
        java.util.Arrays.sort(order, (x, y) -> Double.compare(sigma[y], sigma[x]));
        double[][] u = new double[m][n];
        double[][] v = new double[n][n];
        double[] s = new double[n];
        for (int k = 0; k < n; k++) {
            int j = order[k];
            s[k] = sigma[j];
            for (int i = 0; i < m; i++) {
                u[i][k] = sigma[j] == 0 ? 0 : w[j][i] / sigma[j];
            }
            for (int i = 0; i < n; i++) {
                v[i][k] = vt[j][i];
            }
        }
        return new Result(u, s, v);
    }

    private static void rotate(double[] x, double[] y, double c, double s) {
        for (int i = 0; i < x.length; i++) {
            double a = x[i];
            double b = y[i];
            x[i] = c * a - s * b;
            y[i] = s * a + c * b;
        }
    }

    private static double dot(double[] x, double[] y) {
        double d = 0;
        for (int i = 0; i < x.length; i++) {
            d += x[i] * y[i];
        }
        return d;
    }

    /** The transpose of {@code a}. */
    static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                t[j][i] = a[i][j];
            }
        }
        return t;
    }
}
