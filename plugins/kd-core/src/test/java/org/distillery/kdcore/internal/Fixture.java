package org.distillery.kdcore.internal;

import java.util.Arrays;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.IntStream;

/**
 * Small fixed inputs shared by the golden-value reference and the DJL tests: B = 2 rows,
 * T = 5 positions, V = 7 tokens, a loss mask with zeros, and the teacher's top-3 derived from
 * its logits. Everything is stored as float, exactly what DJL receives; the reference reads
 * the same floats as doubles.
 *
 * @param b rows
 * @param t positions
 * @param v vocabulary
 * @param student student logits [b, t, v]
 * @param teacher teacher logits [b, t, v]
 * @param mask loss mask [b, t]
 * @param targets next-token targets [b, t]; -100 at one masked position
 * @param k top-k size
 * @param topIds teacher top-k ids [b, t, k]
 * @param topLogProbs teacher top-k log-probabilities at temperature 1 [b, t, k]
 * @param restLogMass log of the teacher mass outside the top k [b, t]
 */
record Fixture(int b, int t, int v, float[] student, float[] teacher, float[] mask, long[] targets,
               int k, long[] topIds, float[] topLogProbs, float[] restLogMass) {

    static final float[] MASK = {1, 1, 1, 0, 0, 0, 1, 1, 1, 1};

    /** Gaussian logits (σ = 1.5) from fixed seeds. */
    static Fixture plain() {
        return build(gaussian(11, 70), gaussian(12, 70));
    }

    /**
     * The plain logits with ±inf entries: teacher-only -inf, student-only -inf, both -inf at
     * the same entry, and -inf at a masked position.
     */
    static Fixture withInfinities() {
        float[] s = gaussian(11, 70);
        float[] t = gaussian(12, 70);
        t[at(0, 1, 3)] = Float.NEGATIVE_INFINITY;
        t[at(1, 2, 0)] = Float.NEGATIVE_INFINITY;
        s[at(1, 3, 5)] = Float.NEGATIVE_INFINITY;
        s[at(0, 2, 6)] = Float.NEGATIVE_INFINITY;
        t[at(0, 2, 6)] = Float.NEGATIVE_INFINITY;
        s[at(0, 4, 1)] = Float.NEGATIVE_INFINITY;
        return build(s, t);
    }

    /** Flat index of (row, position, token) in a [2, 5, 7] array. */
    static int at(int row, int position, int token) {
        return (row * 5 + position) * 7 + token;
    }

    private static float[] gaussian(long seed, int n) {
        Random random = new Random(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (1.5 * random.nextGaussian());
        }
        return x;
    }

    private static Fixture build(float[] student, float[] teacher) {
        int b = 2;
        int t = 5;
        int v = 7;
        int k = 3;
        Random random = new Random(13);
        long[] targets = new long[b * t];
        for (int i = 0; i < targets.length; i++) {
            targets[i] = random.nextInt(v);
        }
        targets[3] = -100;
        long[] ids = new long[b * t * k];
        float[] lps = new float[b * t * k];
        float[] rest = new float[b * t];
        for (int p = 0; p < b * t; p++) {
            double[] z = new double[v];
            for (int x = 0; x < v; x++) {
                z[x] = teacher[p * v + x];
            }
            double[] lp = ReferenceLosses.logSoftmax(z, 1.0);
            Integer[] order = IntStream.range(0, v).boxed().toArray(Integer[]::new);
            Arrays.sort(order, Comparator.comparingDouble((Integer x) -> -lp[x]));
            double restMass = 0;
            for (int j = 0; j < v; j++) {
                if (j < k) {
                    ids[p * k + j] = order[j];
                    lps[p * k + j] = (float) lp[order[j]];
                } else {
                    restMass += Math.exp(lp[order[j]]);
                }
            }
            rest[p] = (float) Math.log(restMass);
        }
        return new Fixture(b, t, v, student, teacher, MASK.clone(), targets, k, ids, lps, rest);
    }
}
