package org.distillery.kdcore.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.teacher.TeacherOutput;

/**
 * Chunking does not change results (chunk 2 against one chunk of the whole sequence), chunk
 * intermediates are freed while gradients still reach the student logits, the limits of
 * JSD(β) and skew KL are exactly forward / reverse KL, and bad teacher inputs are refused.
 */
class ChunkingTest {

    private static LossHarness harness;

    @BeforeAll
    static void setUp() {
        harness = new LossHarness();
    }

    @AfterAll
    static void tearDown() {
        harness.close();
    }

    @ParameterizedTest
    @ValueSource(strings = {"kd.forward-kl", "kd.reverse-kl", "kd.jsd", "kd.tvd", "kd.skew-kl", "kd.skew-rkl", "kd.sft",
        "kd.seqkd"})
    void chunkedEqualsUnchunked(String key) {
        for (boolean topK : key.endsWith("sft") || key.endsWith("seqkd") ? new boolean[] {false} : new boolean[] {false, true}) {
            for (Fixture f : List.of(Fixture.plain(), Fixture.withInfinities())) {
                String tau = key.endsWith("sft") || key.endsWith("seqkd") ? "" : "temperature = 1.5\n";
                LossHarness.LogitResult chunked = harness.run(harness.create(key, tau + "chunk-size = 2"), f, topK);
                LossHarness.LogitResult whole = harness.run(harness.create(key, tau + "chunk-size = 64"), f, topK);
                String what = key + (topK ? " top-k" : " logits");
                GoldenValueTest.assertClose(whole.value(), chunked.value(), 1e-6, 1e-6, what);
                for (int i = 0; i < whole.gradient().length; i++) {
                    GoldenValueTest.assertClose(whole.gradient()[i], chunked.gradient()[i], 1e-7, 1e-6, what + " gradient " + i);
                }
                assertTrue(maxAbs(chunked.gradient()) > 1e-3, what + ": gradient reached the student logits");
            }
        }
    }

    @Test
    void chunkGradientsEqualOneBackwardThroughEveryChunk() {
        for (boolean infinities : new boolean[] {false, true}) {
            Fixture f = infinities ? Fixture.withInfinities() : Fixture.plain();
            for (String key : new String[] {"kd.sft", "kd.forward-kl", "kd.reverse-kl", "kd.jsd", "kd.tvd",
                    "kd.skew-kl", "kd.skew-rkl"}) {
                for (boolean topK : new boolean[] {false, true}) {
                    if (topK && key.equals("kd.sft")) {
                        continue;
                    }
                    String what = key + (topK ? " top-k" : "") + (infinities ? " with ±inf" : "");
                    Loss loss = harness.create(key, key.equals("kd.sft") ? "chunk-size = 2"
                            : "chunk-size = 2, temperature = 2.0");
                    LossHarness.LogitResult detached = harness.run(loss, f, topK, true);
                    LossHarness.LogitResult recorded = harness.run(loss, f, topK, false);
                    assertEquals(recorded.value(), detached.value(), 1e-5 * Math.max(1, Math.abs(recorded.value())),
                            what + ": value");
                    assertEquals(recorded.count(), detached.count(), what + ": count");
                    for (int i = 0; i < recorded.gradient().length; i++) {
                        assertEquals(recorded.gradient()[i], detached.gradient()[i], 1e-6, what + ": gradient " + i);
                    }
                    assertTrue(maxAbs(detached.gradient()) > 1e-3, what + ": gradient reached the student logits");
                }
            }
        }
    }

    @Test
    void jsdAndSkewLimitsAreExactlyForwardAndReverseKl() {
        Fixture f = Fixture.withInfinities();
        for (boolean topK : new boolean[] {false, true}) {
            LossHarness.LogitResult forward = harness.run(harness.create("kd.forward-kl", "temperature = 2.0"), f, topK);
            LossHarness.LogitResult reverse = harness.run(harness.create("kd.reverse-kl", "temperature = 2.0"), f, topK);
            assertIdentical(forward, harness.run(harness.create("kd.jsd", "beta = 0, temperature = 2.0"), f, topK));
            assertIdentical(reverse, harness.run(harness.create("kd.jsd", "beta = 1, temperature = 2.0"), f, topK));
            assertIdentical(forward, harness.run(harness.create("kd.skew-kl", "alpha = 0, temperature = 2.0"), f, topK));
            assertIdentical(reverse, harness.run(harness.create("kd.skew-rkl", "alpha = 0, temperature = 2.0"), f, topK));
        }
    }

    @Test
    void chunkIntermediatesAreFreedAndGradientsStillFlow() {
        Fixture f = Fixture.plain();
        Loss loss = harness.create("kd.jsd", "chunk-size = 2, temperature = 2.0");
        try (NDManager step = NDManager.newBaseManager()) {
            Shape shape = new Shape(f.b(), f.t(), f.v());
            NDArray student = step.create(f.student(), shape);
            student.setRequiresGradient(true);
            NDArray teacher = step.create(f.teacher(), shape);
            TokenBatch batch = new TokenBatch(null, null, null, step.create(f.mask(), new Shape(f.b(), f.t())), null);
            LossInput input = new LossInput(batch, student, List.of(),
                    new TeacherOutput(teacher, null, null, null, List.of()), List.of(), step);
            int before = step.getManagedArrays().size();
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                LossValue value = loss.compute(input);
                // 3 chunks: one scalar each, attached to the step, plus 2 running sums, the τ² factor
                // (engine-owned, see Scalars) and the τ² product
                assertEquals(before + 3 + 2 + 2, step.getManagedArrays().size(), "only chunk scalars survive the chunks");
                collector.backward(value.sum());
            }
            assertTrue(maxAbs(student.getGradient().toFloatArray()) > 1e-3, "gradient through closed chunk managers");
        }
    }

    @Test
    void refusesMissingOrMismatchedTeacher() {
        Loss loss = harness.create("kd.forward-kl", "");
        try (NDManager step = NDManager.newBaseManager()) {
            NDArray student = step.zeros(new Shape(1, 2, 5));
            TokenBatch batch = new TokenBatch(null, null, null, step.ones(new Shape(1, 2)), null);
            IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                    () -> loss.compute(new LossInput(batch, student, List.of(), null, List.of(), step)));
            assertTrue(none.getMessage().contains("kd.forward-kl"), none.getMessage());
            TeacherOutput otherVocab = new TeacherOutput(step.zeros(new Shape(1, 2, 6)), null, null, null, List.of());
            IllegalArgumentException vocab = assertThrows(IllegalArgumentException.class,
                    () -> loss.compute(new LossInput(batch, student, List.of(), otherVocab, List.of(), step)));
            assertTrue(vocab.getMessage().contains("vocabulary"), vocab.getMessage());
            TeacherOutput partial = new TeacherOutput(null, step.zeros(new Shape(1, 2, 3)), null, null, List.of());
            assertThrows(IllegalArgumentException.class,
                    () -> loss.compute(new LossInput(batch, student, List.of(), partial, List.of(), step)));
        }
    }

    private static void assertIdentical(LossHarness.LogitResult expected, LossHarness.LogitResult actual) {
        assertEquals(expected.value(), actual.value());
        assertArrayEquals(expected.gradient(), actual.gradient());
    }

    private static double maxAbs(float[] x) {
        double m = 0;
        for (float v : x) {
            m = Math.max(m, Math.abs(v));
        }
        return m;
    }
}
