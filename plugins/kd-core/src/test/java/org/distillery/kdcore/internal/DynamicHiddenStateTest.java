package org.distillery.kdcore.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;

import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.StepClock;
import org.distillery.api.model.ModelConfig;

/**
 * The dynamic layer mappings and the schedule of {@code kd.hidden} against references computed in
 * doubles in this test (nearest teacher layer in a window, attention over a window, the schedules'
 * weights), and projections created from the models' configurations when the loss is created.
 * Fixture: {@link HiddenFixture}, student 2 layers of width 4, teacher 4 layers of width 4 (no
 * projection, so the reference needs no W), uniform pairs 1 → 2 and 2 → 4.
 */
class DynamicHiddenStateTest {

    private static final int WIDTH = 4;
    private static LossHarness harness;

    @BeforeAll
    static void setUp() {
        harness = new LossHarness();
    }

    @AfterAll
    static void tearDown() {
        harness.close();
    }

    private static ModelConfig config(int hidden, int layers) {
        return new ModelConfig("gpt2", 7, hidden, layers, 2, 2, 4 * hidden, 64, Map.of());
    }

    private static Loss create(String hocon, StepClock clock) {
        return harness.create(HiddenStateLoss.KEY, hocon, harness.context(config(WIDTH, 2), config(WIDTH, 4), clock));
    }

    /** Σ_t mask · ‖h_S^m − h_T^n‖² / d over the fixture's tokens. */
    private static double pair(int m, int n) {
        return ReferenceLosses.hidden(false, new int[][] {{m, n}}, new double[1][], student(), WIDTH, teacher(), WIDTH,
                Fixture.MASK);
    }

    private static double[][] student() {
        return HiddenFixture.toDouble(HiddenFixture.student());
    }

    private static double[][] teacher() {
        return HiddenFixture.toDouble(HiddenFixture.teacher(WIDTH));
    }

    private static double run(Loss loss) {
        return harness.runHidden(loss, HiddenFixture.student(), HiddenFixture.teacher(WIDTH), WIDTH).value();
    }

    @Test
    void projectionsComeFromTheModelConfigsWhenTheLossIsCreated() {
        Loss loss = harness.create(HiddenStateLoss.KEY, "metric = cosine",
                harness.context(config(4, 2), config(6, 4), StepClock.NONE));
        assertEquals(2, loss.parameters().size(), "one projection per student layer, before any batch");
        assertEquals(new Shape(4, 6), loss.parameters().get(0).getShape());
        Loss again = harness.create(HiddenStateLoss.KEY, "metric = cosine",
                harness.context(config(4, 2), config(6, 4), StepClock.NONE));
        assertEquals(java.util.Arrays.toString(loss.parameters().get(1).toFloatArray()),
                java.util.Arrays.toString(again.parameters().get(1).toFloatArray()), "seeded: a resumed run makes the same");
        harness.runHidden(loss, HiddenFixture.student(), HiddenFixture.teacher(6), 6);
        assertEquals(2, loss.parameters().size(), "the first batch creates none");
    }

    @Test
    void nearestPicksTheClosestTeacherLayerInTheWindow() {
        // student 1 -> center 2, window 1: teacher 1, 2, 3; student 2 -> center 4: teacher 3, 4
        double first = Math.min(pair(1, 1), Math.min(pair(1, 2), pair(1, 3)));
        double second = Math.min(pair(2, 3), pair(2, 4));
        double expected = (first + second) / 2;
        double value = run(create("mapping = nearest\nwindow = 1", StepClock.NONE));
        GoldenValueTest.assertClose(expected, value, 1e-6, 1e-6, "nearest, window 1");
        assertTrue(Math.abs(expected - (pair(1, 2) + pair(2, 4)) / 2) > 1e-3, "the fixture makes the choice matter");

        double all = Math.min(Math.min(pair(1, 1), pair(1, 2)), Math.min(pair(1, 3), pair(1, 4)))
                + Math.min(Math.min(pair(2, 1), pair(2, 2)), Math.min(pair(2, 3), pair(2, 4)));
        GoldenValueTest.assertClose(all / 2, run(create("mapping = nearest\nwindow = -1", StepClock.NONE)), 1e-6, 1e-6,
                "nearest over every teacher layer");
        GoldenValueTest.assertClose((pair(1, 2) + pair(2, 4)) / 2, run(create("mapping = nearest\nwindow = 0",
                StepClock.NONE)), 1e-6, 1e-6, "window 0 is the fixed mapping");
    }

    /** Σ_t mask · ‖x − Σ_n a_n h_T^n‖² / d with a = softmax_n(⟨x, h_T^n⟩ / √d), x = h_S^m. */
    private static double attention(double[][] s, int m, int from, int to) {
        double[][] t = teacher();
        double total = 0;
        for (int p = 0; p < Fixture.MASK.length; p++) {
            int k = to - from + 1;
            double[] scores = new double[k];
            double max = Double.NEGATIVE_INFINITY;
            for (int n = from; n <= to; n++) {
                double dot = 0;
                for (int j = 0; j < WIDTH; j++) {
                    dot += s[m][p * WIDTH + j] * t[n][p * WIDTH + j];
                }
                scores[n - from] = dot / Math.sqrt(WIDTH);
                max = Math.max(max, scores[n - from]);
            }
            double z = 0;
            for (int i = 0; i < k; i++) {
                scores[i] = Math.exp(scores[i] - max);
                z += scores[i];
            }
            double se = 0;
            for (int j = 0; j < WIDTH; j++) {
                double y = 0;
                for (int n = from; n <= to; n++) {
                    y += scores[n - from] / z * t[n][p * WIDTH + j];
                }
                double d = s[m][p * WIDTH + j] - y;
                se += d * d;
            }
            total += Fixture.MASK[p] * se / WIDTH;
        }
        return total;
    }

    @Test
    void attentionMatchesTheSoftAlignmentAndItsGradient() {
        double[][] s = student();
        double expected = (attention(s, 1, 1, 3) + attention(s, 2, 3, 4)) / 2;
        Loss loss = create("mapping = attention\nwindow = 1", StepClock.NONE);
        LossHarness.HiddenResult r = harness.runHidden(loss, HiddenFixture.student(), HiddenFixture.teacher(WIDTH), WIDTH);
        GoldenValueTest.assertClose(expected, r.value(), 1e-6, 1e-6, "attention, window 1");
        // the attention weights are differentiated: central differences of the reference in doubles
        double h = 1e-5;
        for (int i : new int[] {0, 5, 17, 39}) {
            double[][] plus = student();
            double[][] minus = student();
            plus[1][i] += h;
            minus[1][i] -= h;
            double numeric = ((attention(plus, 1, 1, 3) + attention(plus, 2, 3, 4))
                    - (attention(minus, 1, 1, 3) + attention(minus, 2, 3, 4))) / 2 / (2 * h);
            assertEquals(numeric, r.stateGradients()[1][i], 1e-4, "d/d student layer 1, element " + i);
        }
    }

    @Test
    void schedulesFadeTheTermTowardLogitOnlyKd() {
        double constant = (pair(1, 2) + pair(2, 4)) / 2;
        GoldenValueTest.assertClose(constant, run(create("", StepClock.fixed(70, 100))), 1e-6, 1e-6, "constant");
        GoldenValueTest.assertClose(0.75 * constant, run(create("schedule = linear", StepClock.fixed(25, 100))),
                1e-6, 1e-6, "linear at a quarter");
        GoldenValueTest.assertClose(0.5 * constant, run(create("schedule = cosine", StepClock.fixed(50, 100))),
                1e-6, 1e-6, "cosine at half");
        GoldenValueTest.assertClose(0.9 * constant, run(create("schedule = linear\nschedule-steps = 40",
                StepClock.fixed(4, 100))), 1e-6, 1e-6, "linear over its own 40 steps");
        GoldenValueTest.assertClose(pair(1, 2), run(create("schedule = shallow-to-deep", StepClock.fixed(10, 100))),
                1e-6, 1e-6, "shallow-to-deep starts with the shallowest pair alone");
        GoldenValueTest.assertClose(pair(2, 4), run(create("schedule = shallow-to-deep", StepClock.fixed(60, 100))),
                1e-6, 1e-6, "then the next");
        LossHarness.HiddenResult end = harness.runHidden(create("schedule = shallow-to-deep", StepClock.fixed(100, 100)),
                HiddenFixture.student(), HiddenFixture.teacher(WIDTH), WIDTH);
        assertEquals(0.0, end.value(), 0.0, "logit-only at the end");
        assertEquals(0.0, end.stateGradients()[2][0], 0.0, "a differentiable zero");
        GoldenValueTest.assertClose(constant, run(create("schedule = linear", StepClock.NONE)), 1e-6, 1e-6,
                "outside training the schedule stays at its start");
    }
}
