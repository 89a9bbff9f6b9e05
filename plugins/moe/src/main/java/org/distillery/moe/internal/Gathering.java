package org.distillery.moe.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Knowledge gathering (OneS, Xue et al., arXiv 2201.10890): the arithmetic that turns a sparse
 * layer's E experts into one dense SwiGLU block, with no model in sight so that it can be
 * tested against hand-computed matrices. Nothing here records gradients.
 *
 * <ul>
 *   <li>Merging is a weighted sum of same-shaped matrices, W = Σ_i c_i W_i, applied to the gate,
 *       up and down projections separately; {@link #coefficients} gives c for each method.</li>
 *   <li>SVD gathering first replaces every expert matrix by its best rank-r approximation
 *       ({@link #truncate}), then merges.</li>
 *   <li>A narrower student ({@link #project}) mixes the intermediate units onto the top
 *       principal directions of [W_gate | W_up | W_downᵀ].</li>
 *   <li>A wider block is zero-padded ({@link #pad}): the added units have zero down-projection
 *       columns, so the block computes exactly the same function.</li>
 * </ul>
 */
final class Gathering {

    /** How the experts of a layer are merged. */
    enum Method {
        /** W = Σ_i W_i. */
        SUM,
        /** W = (1/E) Σ_i W_i. */
        AVERAGE,
        /** W = Σ_i f_i W_i with f_i the expert's share of top-k routing decisions on the calibration set. */
        FREQUENCY,
        /** Only the K most used experts, averaged or frequency-weighted ({@code top-k-merge}). */
        TOP_K,
        /** Each expert matrix truncated to rank r by SVD, then merged ({@code svd-merge}). */
        SVD
    }

    /** The merge operator of {@link Method#TOP_K} and {@link Method#SVD}. */
    enum Merge {
        /** Plain sum. */
        SUM,
        /** Mean. */
        AVERAGE,
        /** Weighted by routing frequency. */
        FREQUENCY
    }

    /**
     * A dense SwiGLU block.
     *
     * @param gate [inter, hidden]
     * @param up [inter, hidden]
     * @param down [hidden, inter]
     */
    record Block(NDArray gate, NDArray up, NDArray down) {

        /** The intermediate width. */
        long width() {
            return gate.getShape().get(0);
        }
    }

    private Gathering() {
    }

    /** Whether {@code method} (with its merge operator) needs routing frequencies from a calibration set. */
    static boolean needsFrequencies(Method method, Merge merge) {
        return method == Method.FREQUENCY || method == Method.TOP_K || (method == Method.SVD && merge == Merge.FREQUENCY);
    }

    /**
     * The merge coefficients of one layer's experts.
     *
     * @param method the gathering method
     * @param merge the merge operator for {@code top-k} and {@code svd} (ignored otherwise)
     * @param keep K for {@code top-k}
     * @param counts top-k routing decisions per expert on the calibration set, or {@code null} when not needed
     * @param experts E
     */
    static double[] coefficients(Method method, Merge merge, int keep, long[] counts, int experts) {
        double[] c = new double[experts];
        switch (method) {
            case SUM -> Arrays.fill(c, 1.0);
            case AVERAGE -> Arrays.fill(c, 1.0 / experts);
            case FREQUENCY -> c = frequencies(counts, allExperts(experts));
            case TOP_K -> {
                int[] chosen = mostUsed(counts, keep);
                if (merge == Merge.FREQUENCY) {
                    c = frequencies(counts, chosen);
                } else {
                    for (int e : chosen) {
                        c[e] = merge == Merge.SUM ? 1.0 : 1.0 / chosen.length;
                    }
                }
            }
            case SVD -> c = coefficients(switch (merge) {
                case SUM -> Method.SUM;
                case AVERAGE -> Method.AVERAGE;
                case FREQUENCY -> Method.FREQUENCY;
            }, merge, keep, counts, experts);
            default -> throw new IllegalArgumentException(method.toString());
        }
        return c;
    }

    /** The {@code keep} experts with the most routing decisions; ties go to the lower index. */
    static int[] mostUsed(long[] counts, int keep) {
        Integer[] order = new Integer[counts.length];
        for (int i = 0; i < order.length; i++) {
            order[i] = i;
        }
        Arrays.sort(order, (a, b) -> counts[a] != counts[b] ? Long.compare(counts[b], counts[a]) : Integer.compare(a, b));
        int[] out = new int[Math.min(keep, counts.length)];
        for (int i = 0; i < out.length; i++) {
            out[i] = order[i];
        }
        Arrays.sort(out);
        return out;
    }

    private static int[] allExperts(int n) {
        int[] all = new int[n];
        for (int i = 0; i < n; i++) {
            all[i] = i;
        }
        return all;
    }

    private static double[] frequencies(long[] counts, int[] among) {
        double total = 0;
        for (int e : among) {
            total += counts[e];
        }
        if (total <= 0) {
            throw new IllegalArgumentException("no routing decisions were counted for these experts on the calibration set");
        }
        double[] c = new double[counts.length];
        for (int e : among) {
            c[e] = counts[e] / total;
        }
        return c;
    }

    /** Σ_i c_i W_i over the matrices whose coefficient is not 0, in {@code manager}. */
    static NDArray merge(List<NDArray> matrices, double[] c, NDManager manager) {
        NDArray acc = manager.zeros(matrices.get(0).getShape(), DataType.FLOAT32);
        for (int i = 0; i < matrices.size(); i++) {
            if (c[i] != 0) {
                // a fresh product: the experts are the teacher's own weights and must stay untouched
                try (NDArray w = matrices.get(i).toType(DataType.FLOAT32, false).mul((float) c[i])) {
                    acc.addi(w);
                }
            }
        }
        return acc;
    }

    /** Merges each projection of {@code experts} with coefficients {@code c}. */
    static Block mergeBlocks(List<Block> experts, double[] c, NDManager manager) {
        List<NDArray> g = new ArrayList<>();
        List<NDArray> u = new ArrayList<>();
        List<NDArray> d = new ArrayList<>();
        for (Block b : experts) {
            g.add(b.gate());
            u.add(b.up());
            d.add(b.down());
        }
        return new Block(merge(g, c, manager), merge(u, c, manager), merge(d, c, manager));
    }

    /** The best rank-{@code rank} approximation of a matrix (all of it when rank ≥ min(rows, cols)). */
    static NDArray truncate(NDArray w, int rank, NDManager manager) {
        return fromDouble(Svd.of(toDouble(w)).reconstruct(rank), manager);
    }

    /** Each projection of {@code b} truncated to rank {@code rank}. */
    static Block truncate(Block b, int rank, NDManager manager) {
        return new Block(truncate(b.gate(), rank, manager), truncate(b.up(), rank, manager),
                truncate(b.down(), rank, manager));
    }

    /**
     * A block of intermediate width {@code width} &lt; the block's: with P [inter, width] the top
     * left singular vectors of M = [W_gate | W_up | W_downᵀ] (inter × 3·hidden), the new block is
     * (Pᵀ W_gate, Pᵀ W_up, W_down P). This keeps the principal directions of what the units read
     * and write; because the activation acts on each mixed unit, it approximates the function.
     */
    static Block project(Block b, int width, NDManager manager) {
        double[][] gate = toDouble(b.gate());
        double[][] up = toDouble(b.up());
        double[][] downT = Svd.transpose(toDouble(b.down()));
        int inter = gate.length;
        int hidden = gate[0].length;
        if (width > Math.min(inter, 3 * hidden)) {
            throw new IllegalArgumentException("cannot project " + inter + " units onto " + width
                    + " directions (at most min(inter, 3 x hidden) = " + Math.min(inter, 3 * hidden) + ")");
        }
        double[][] m = new double[inter][3 * hidden];
        for (int i = 0; i < inter; i++) {
            System.arraycopy(gate[i], 0, m[i], 0, hidden);
            System.arraycopy(up[i], 0, m[i], hidden, hidden);
            System.arraycopy(downT[i], 0, m[i], 2 * hidden, hidden);
        }
        double[][] u = Svd.of(m).u();
        double[][] pg = new double[width][hidden];
        double[][] pu = new double[width][hidden];
        double[][] pd = new double[hidden][width];
        for (int k = 0; k < width; k++) {
            for (int i = 0; i < inter; i++) {
                double p = u[i][k];
                if (p == 0) {
                    continue;
                }
                for (int h = 0; h < hidden; h++) {
                    pg[k][h] += p * gate[i][h];
                    pu[k][h] += p * up[i][h];
                    pd[h][k] += p * downT[i][h];
                }
            }
        }
        return new Block(fromDouble(pg, manager), fromDouble(pu, manager), fromDouble(pd, manager));
    }

    /** {@code b} widened to {@code width} units with zero rows (gate, up) and zero columns (down). */
    static Block pad(Block b, int width, NDManager manager) {
        long extra = width - b.width();
        if (extra == 0) {
            return b;
        }
        long hidden = b.gate().getShape().get(1);
        NDArray zr = manager.zeros(new Shape(extra, hidden), DataType.FLOAT32);
        NDArray zc = manager.zeros(new Shape(hidden, extra), DataType.FLOAT32);
        return new Block(b.gate().concat(zr, 0), b.up().concat(zr, 0), b.down().concat(zc, 1));
    }

    /** Two blocks side by side: units of {@code a} then of {@code b}, {@code b}'s output scaled by {@code scale}. */
    static Block concat(Block a, Block b, double scale) {
        NDArray down = b.down().mul((float) scale);
        return new Block(a.gate().concat(b.gate(), 0), a.up().concat(b.up(), 0), a.down().concat(down, 1));
    }

    /** A 2-d array as double rows. */
    static double[][] toDouble(NDArray w) {
        Shape s = w.getShape();
        int rows = (int) s.get(0);
        int cols = (int) s.get(1);
        float[] f = w.toType(DataType.FLOAT32, false).toFloatArray();
        double[][] out = new double[rows][cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                out[i][j] = f[i * cols + j];
            }
        }
        return out;
    }

    /** Double rows as a float32 array in {@code manager}. */
    static NDArray fromDouble(double[][] a, NDManager manager) {
        int rows = a.length;
        int cols = a[0].length;
        float[] f = new float[rows * cols];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                f[i * cols + j] = (float) a[i][j];
            }
        }
        return manager.create(f, new Shape(rows, cols));
    }
}
