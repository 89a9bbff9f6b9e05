package org.distillery.kdcore.internal;

import java.util.List;
import java.util.Random;

/**
 * Fixed hidden states for {@code kd.hidden}: a student with 2 layers of width 4 (3 hidden
 * states) and a teacher with 4 layers of width 6 or 4 (5 hidden states), B = 2, T = 5, the
 * mask of {@link Fixture}. Floats, read by the reference as doubles.
 */
final class HiddenFixture {

    static final int STUDENT_WIDTH = 4;
    static final int STUDENT_STATES = 3;
    static final int TEACHER_STATES = 5;
    static final int TOKENS = 10;

    private HiddenFixture() {
    }

    /** Student hidden states [3][2·5·4]. */
    static float[][] student() {
        return states(21, STUDENT_STATES, STUDENT_WIDTH);
    }

    /** Teacher hidden states [5][2·5·width]. */
    static float[][] teacher(int width) {
        return states(22 + width, TEACHER_STATES, width);
    }

    private static float[][] states(long seed, int count, int width) {
        Random random = new Random(seed);
        float[][] out = new float[count][TOKENS * width];
        for (float[] state : out) {
            for (int i = 0; i < state.length; i++) {
                state[i] = (float) random.nextGaussian();
            }
        }
        return out;
    }

    /**
     * A golden case of {@code kd.hidden} with identity-initialised projections (so the
     * reference knows W without reading it from the loss).
     *
     * @param metric mse or cosine
     * @param layersHocon the {@code layers} parameter as written
     * @param pairs the mapping the reference uses, indices already resolved
     * @param teacherWidth 6 (projected) or 4 (not projected)
     * @param projection the {@code projection} parameter
     */
    record Case(String metric, String layersHocon, int[][] pairs, int teacherWidth, String projection) {

        String name() {
            return "kd.hidden metric=" + metric + " layers=" + layersHocon + " teacher-width=" + teacherWidth
                    + " projection=" + projection;
        }

        String hocon() {
            return "metric = " + metric + "\nlayers = " + layersHocon + "\nprojection = " + projection + "\ninit = identity\n";
        }

        double reference() {
            return reference(toDouble(student()), projections());
        }

        /** Identity projections [dS × dT] per pair, or {@code null} entries where no projection applies. */
        double[][] projections() {
            double[][] w = new double[pairs.length][];
            if (!"never".equals(projection) && (teacherWidth != STUDENT_WIDTH || "always".equals(projection))) {
                for (int m = 0; m < pairs.length; m++) {
                    w[m] = new double[STUDENT_WIDTH * teacherWidth];
                    for (int i = 0; i < Math.min(STUDENT_WIDTH, teacherWidth); i++) {
                        w[m][i * teacherWidth + i] = 1;
                    }
                }
            }
            return w;
        }

        /** The reference at the given student hidden states and projections. */
        double reference(double[][] studentStates, double[][] w) {
            return ReferenceLosses.hidden("cosine".equals(metric), pairs, w, studentStates, STUDENT_WIDTH,
                    toDouble(teacher(teacherWidth)), teacherWidth, Fixture.MASK);
        }
    }

    static double[][] toDouble(float[][] x) {
        double[][] out = new double[x.length][];
        for (int i = 0; i < x.length; i++) {
            out[i] = ReferenceLosses.toDouble(x[i]);
        }
        return out;
    }

    /** The hidden-state golden cases. */
    static List<Case> goldenCases() {
        return List.of(
                new Case("mse", "[]", new int[][] {{1, 2}, {2, 4}}, 6, "auto"),
                new Case("cosine", "[]", new int[][] {{1, 2}, {2, 4}}, 6, "auto"),
                new Case("cosine", "[[0, 1], [-1, -1]]", new int[][] {{0, 1}, {2, 4}}, 6, "auto"),
                new Case("mse", "[[1, 3], [2, 4]]", new int[][] {{1, 3}, {2, 4}}, 4, "never"),
                new Case("mse", "[[2, 4]]", new int[][] {{2, 4}}, 4, "always"));
    }
}
