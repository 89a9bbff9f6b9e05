package org.distillery.kdcore.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import org.distillery.api.loss.Loss;

/**
 * Every loss against golden values from the independent double-precision reference
 * ({@code golden/losses.tsv}, see its README), value and gradient.
 *
 * <p>Tolerances (DJL computes in fp32): values within 1e-6 + 2e-6·|v| (absolute + relative);
 * gradients w.r.t. student logits or hidden states within 1e-5 + 1e-4·|g| of central finite
 * differences (step 1e-5) of the reference.
 */
class GoldenValueTest {

    private static LossHarness harness;
    private static Map<String, Double> golden;

    @BeforeAll
    static void setUp() throws IOException {
        harness = new LossHarness();
        golden = GoldenValues.load();
    }

    @AfterAll
    static void tearDown() {
        harness.close();
    }

    static List<GoldenCase> logitCases() {
        return GoldenCase.all();
    }

    static List<HiddenFixture.Case> hiddenCases() {
        return HiddenFixture.goldenCases();
    }

    @Test
    void goldenFileIsWhatTheReferenceComputes() {
        Map<String, Double> computed = GoldenValues.compute();
        assertEquals(computed.keySet(), golden.keySet(), "cases in golden/losses.tsv");
        computed.forEach((name, value) -> assertClose(golden.get(name), value, 1e-12, 1e-12, name));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("logitCases")
    void logitLossMatchesReference(GoldenCase c) {
        Loss loss = harness.create(c.key(), c.hocon());
        Fixture f = c.fixture();
        LossHarness.LogitResult result = harness.run(loss, f, c.topK());

        assertClose(golden.get(c.name()), result.value(), 1e-6, 2e-6, c.name());
        assertEquals(7, result.count(), "counted tokens");
        double[] expected = ReferenceLosses.gradient(c::reference, ReferenceLosses.toDouble(f.student()), 1e-5);
        assertGradient(expected, result.gradient(), c.name());
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("hiddenCases")
    void hiddenLossMatchesReference(HiddenFixture.Case c) {
        Loss loss = harness.create(HiddenStateLoss.KEY, c.hocon());
        float[][] student = HiddenFixture.student();
        LossHarness.HiddenResult result = harness.runHidden(loss, student, HiddenFixture.teacher(c.teacherWidth()),
                c.teacherWidth());

        assertClose(golden.get(c.name()), result.value(), 1e-6, 2e-6, c.name());
        assertEquals(7, result.count(), "counted tokens");
        double[][] states = HiddenFixture.toDouble(student);
        double[][] w = c.projections();
        for (int s = 0; s < states.length; s++) {
            int state = s;
            double[] expected = ReferenceLosses.gradient(x -> {
                double[][] perturbed = states.clone();
                perturbed[state] = x;
                return c.reference(perturbed, w);
            }, states[s].clone(), 1e-5);
            assertGradient(expected, result.stateGradients()[s], c.name() + " d/d student state " + s);
        }
        int projected = 0;
        for (int m = 0; m < w.length; m++) {
            if (w[m] == null) {
                continue;
            }
            int pair = m;
            double[] expected = ReferenceLosses.gradient(x -> {
                double[][] perturbed = w.clone();
                perturbed[pair] = x;
                return c.reference(states, perturbed);
            }, w[m].clone(), 1e-5);
            assertGradient(expected, result.parameterGradients().get(projected++), c.name() + " d/d projection " + m);
        }
        assertEquals(projected, loss.parameters().size(), "one learned projection per projected pair");
    }

    static void assertClose(double expected, double actual, double abs, double rel, String what) {
        assertTrue(Math.abs(expected - actual) <= abs + rel * Math.abs(expected),
                what + ": expected " + expected + " but got " + actual);
    }

    static void assertGradient(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what + ": gradient size");
        for (int i = 0; i < expected.length; i++) {
            assertTrue(Float.isFinite(actual[i]), what + ": gradient[" + i + "] = " + actual[i]);
            assertClose(expected[i], actual[i], 1e-5, 1e-4, what + ": gradient[" + i + "]");
        }
    }
}
