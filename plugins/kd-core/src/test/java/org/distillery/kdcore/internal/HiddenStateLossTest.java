package org.distillery.kdcore.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossInput;
import org.distillery.api.teacher.TeacherOutput;

/** Learned projections of {@code kd.hidden}: seeded, eager or lazy, trained; and its refusals. */
class HiddenStateLossTest {

    private static LossHarness harness;

    @BeforeAll
    static void setUp() {
        harness = new LossHarness();
    }

    @AfterAll
    static void tearDown() {
        harness.close();
    }

    @Test
    void xavierProjectionsAreSeededAndMatchTheReference() {
        String params = "metric = mse\nstudent-hidden-size = 4\nteacher-hidden-size = 6\nstudent-layers = 2\nteacher-layers = 4";
        Loss loss = harness.create(HiddenStateLoss.KEY, params);
        assertEquals(2, loss.parameters().size(), "created eagerly from the sizes");
        float[] w0 = loss.parameters().get(0).toFloatArray();
        assertArrayEquals(w0, harness.create(HiddenStateLoss.KEY, params).parameters().get(0).toFloatArray(),
                "same run seed, same projection");
        double bound = Math.sqrt(6.0 / (4 + 6));
        for (float w : w0) {
            assertTrue(Math.abs(w) <= bound, "xavier uniform bound");
        }
        assertTrue(loss.parameters().get(0).hasGradient(), "projection is trainable");

        double[][] w = new double[2][];
        for (int m = 0; m < 2; m++) {
            w[m] = ReferenceLosses.toDouble(loss.parameters().get(m).toFloatArray());
        }
        HiddenFixture.Case mapping = new HiddenFixture.Case("mse", "[]", new int[][] {{1, 2}, {2, 4}}, 6, "auto");
        double expected = mapping.reference(HiddenFixture.toDouble(HiddenFixture.student()), w);
        LossHarness.HiddenResult result = harness.runHidden(loss, HiddenFixture.student(), HiddenFixture.teacher(6), 6);
        GoldenValueTest.assertClose(expected, result.value(), 1e-6, 2e-6, "kd.hidden with xavier projections");
    }

    @Test
    void projectionsAreCreatedAtTheFirstBatchWithoutSizes() {
        Loss loss = harness.create(HiddenStateLoss.KEY, "metric = cosine");
        assertTrue(loss.parameters().isEmpty());
        harness.runHidden(loss, HiddenFixture.student(), HiddenFixture.teacher(6), 6);
        assertEquals(2, loss.parameters().size());
        assertEquals(new Shape(4, 6), loss.parameters().get(0).getShape());
    }

    @Test
    void refusesImpossibleSetups() {
        IllegalArgumentException never = assertThrows(IllegalArgumentException.class, () -> harness.runHidden(
                harness.create(HiddenStateLoss.KEY, "projection = never"), HiddenFixture.student(), HiddenFixture.teacher(6), 6));
        assertTrue(never.getMessage().contains("projection = never"), never.getMessage());
        IllegalArgumentException range = assertThrows(IllegalArgumentException.class, () -> harness.runHidden(
                harness.create(HiddenStateLoss.KEY, "layers = [[1, 9]]"), HiddenFixture.student(), HiddenFixture.teacher(6), 6));
        assertTrue(range.getMessage().contains("teacher layer 9"), range.getMessage());

        Loss loss = harness.create(HiddenStateLoss.KEY, "");
        try (NDManager step = NDManager.newBaseManager()) {
            NDArray hidden = step.zeros(new Shape(1, 2, 4));
            TokenBatch batch = new TokenBatch(null, null, null, step.ones(new Shape(1, 2)), null);
            TeacherOutput cachedTopK = new TeacherOutput(null, step.zeros(new Shape(1, 2, 3)), step.zeros(new Shape(1, 2, 3)),
                    step.zeros(new Shape(1, 2)), List.of());
            IllegalArgumentException topK = assertThrows(IllegalArgumentException.class, () -> loss.compute(
                    new LossInput(batch, step.zeros(new Shape(1, 2, 7)), List.of(hidden, hidden), cachedTopK, List.of(), step)));
            assertTrue(topK.getMessage().contains("top-k"), topK.getMessage());
        }
    }
}
