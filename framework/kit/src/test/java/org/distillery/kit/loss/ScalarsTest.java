package org.distillery.kit.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.ArrayList;
import java.util.List;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** {@link Scalars}: value, type and manager of the scalar, and a gradient that survives garbage collection. */
class ScalarsTest {

    private static NDManager manager;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    @Test
    void theScalarHasTheValueTypeAndManagerOfLike() {
        try (NDManager m = manager.newSubManager()) {
            NDArray f32 = m.create(new float[] {1f, 2f});
            NDArray s = Scalars.of(f32, 2.5);
            assertEquals(DataType.FLOAT32, s.getDataType());
            assertEquals(new Shape(), s.getShape());
            assertEquals(2.5f, s.getFloat(), 0f);
            assertSame(m, s.getManager());

            NDArray f64 = m.create(new double[] {1, 2});
            NDArray d = Scalars.of(f64, 0.1);
            assertEquals(DataType.FLOAT64, d.getDataType());
            assertEquals(0.1, d.getDouble(), 0.0, "a float64 scalar keeps the double's precision");

            NDArray f16 = m.create(new float[] {1f}).toType(DataType.FLOAT16, false);
            NDArray h = Scalars.of(f16, -0.75);
            assertEquals(DataType.FLOAT16, h.getDataType());
            assertEquals(-0.75f, h.toType(DataType.FLOAT32, false).getFloat(), 0f);

            NDArray i64 = m.create(new long[] {4});
            NDArray l = Scalars.of(i64, 3);
            assertEquals(DataType.INT64, l.getDataType());
            assertEquals(3L, l.getLong());

            assertEquals(1e-3f, Scalars.of(f32, 1e-3).getFloat(), 0f, "rounded as float32 rounds the double");
        }
    }

    @Test
    void aGradientThroughTheScalarSurvivesGarbageCollection() {
        double[] factors = {0.5, -3.0, 7.25, 1e-3, 42.0};
        for (int round = 0; round < factors.length; round++) {
            double c = factors[round];
            try (NDManager step = manager.newSubManager()) {
                NDArray x = step.create(new float[] {1f, -2f, 3f, 0.5f});
                x.setRequiresGradient(true);
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray y = x.mul(Scalars.of(x, c)).sum();
                    // what the Number overloads get wrong: collect, then reuse freed memory
                    List<NDArray> noise = new ArrayList<>();
                    for (int i = 0; i < 3; i++) {
                        System.gc();
                        noise.add(step.create(new float[] {Float.NaN}));
                    }
                    assertEquals(c * 2.5, y.getFloat(), 1e-5 * Math.max(1, Math.abs(c)));
                    gc.backward(y);
                }
                for (float g : x.getGradient().toFloatArray()) {
                    assertEquals((float) c, g, 0f, "round " + round);
                }
            }
        }
    }
}
