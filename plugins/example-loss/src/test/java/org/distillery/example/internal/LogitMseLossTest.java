package org.distillery.example.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.module.ModuleContributions;

/**
 * {@code example.logit-mse} against an independent reference written here in plain Java: values
 * and gradients at tolerance 1e-5, chunked as the trainer runs it, and the module as the kernel reads it.
 */
class LogitMseLossTest {

    private static final int B = 2;
    private static final int T = 3;
    private static final int V = 4;
    private static final float[] STUDENT = {
        0.5f, -1.0f, 2.0f, 0.0f, 1.5f, 0.25f, -0.5f, 3.0f, -2.0f, 1.0f, 0.0f, 0.5f,
        2.5f, 0.0f, -1.5f, 1.0f, 0.75f, 0.75f, 0.75f, 0.75f, -1.0f, 2.0f, 1.0f, -3.0f};
    private static final float[] TEACHER = {
        1.0f, 0.0f, 1.0f, -1.0f, 2.0f, 0.0f, 0.0f, 2.0f, -1.0f, 0.5f, 0.5f, 0.0f,
        3.0f, -1.0f, -1.0f, 0.0f, 0.0f, 1.0f, 2.0f, 3.0f, 0.0f, 1.0f, 1.0f, -2.0f};
    private static final float[] MASK = {0, 1, 1, 1, 1, 0};

    private static NDManager manager;
    private static List<ModuleContributions.Entry> module;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        module = ModuleContributions.of(new ExampleModule(),
                ModuleContributions.reference(ExampleModule.class.getClassLoader(), "reference.conf"));
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    /** Builds the loss through its factory over its defaults, as the trainer does. */
    private static Loss loss(String params) {
        ModuleContributions.Entry e = module.get(0);
        LossContext context = new LossContext(manager, 1, null, null, null, "train.loss[0].params");
        return ((LossFactory) e.factory()).create(context, ConfigFactory.parseString(params).withFallback(e.defaults()));
    }

    /** The reference: Σ over counted positions of the mean squared (centred) logit difference, and its gradient. */
    private static double[] reference(boolean center, double[] gradient) {
        double sum = 0;
        for (int p = 0; p < B * T; p++) {
            double ms = 0;
            double mt = 0;
            for (int v = 0; v < V; v++) {
                ms += STUDENT[p * V + v] / (double) V;
                mt += TEACHER[p * V + v] / (double) V;
            }
            for (int v = 0; v < V; v++) {
                double d = (STUDENT[p * V + v] - (center ? ms : 0)) - (TEACHER[p * V + v] - (center ? mt : 0));
                sum += MASK[p] * d * d / V;
                gradient[p * V + v] = MASK[p] * 2 * d / V; // centred d sums to 0, so centring adds no term
            }
        }
        return new double[] {sum};
    }

    private static LossValue run(Loss loss, NDManager step, boolean training, float[][] gradientOut) {
        NDArray student = step.create(STUDENT, new Shape(B, T, V));
        NDArray teacher = step.create(TEACHER, new Shape(B, T, V));
        TokenBatch batch = new TokenBatch(null, null, null, step.create(MASK, new Shape(B, T)), null);
        TeacherOutput out = new TeacherOutput(teacher, null, null, null, List.of());
        if (!training) {
            return loss.compute(new LossInput(batch, student, List.of(), out, List.of(), step));
        }
        student.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            LossValue v = loss.compute(new LossInput(batch, student, List.of(), out, List.of(), step, gc));
            gc.backward(v.sum());
            gradientOut[0] = student.getGradient().toFloatArray();
            return v;
        }
    }

    @Test
    void valueAndGradientEqualTheReference() {
        for (boolean center : new boolean[] {true, false}) {
            for (int chunk : new int[] {1, 2, 64}) {
                double[] expectedGradient = new double[B * T * V];
                double expected = reference(center, expectedGradient)[0];
                try (NDManager step = manager.newSubManager()) {
                    float[][] gradient = new float[1][];
                    LossValue v = run(loss("center = " + center + ", chunk-size = " + chunk), step, true, gradient);
                    assertEquals(expected, v.sum().getFloat(), 1e-5, "center " + center + ", chunk " + chunk);
                    assertEquals(4, v.count(), "counted positions");
                    for (int i = 0; i < expectedGradient.length; i++) {
                        assertEquals(expectedGradient[i], gradient[0][i], 1e-5, "gradient " + i);
                    }
                    LossValue eval = run(loss("center = " + center + ", chunk-size = " + chunk), step, false, null);
                    assertEquals(expected, eval.sum().getFloat(), 1e-5, "without a gradient collector");
                }
            }
        }
    }

    @Test
    void moduleBindsTheLossWithItsDefaults() {
        assertEquals(1, module.size());
        ModuleContributions.Entry e = module.get(0);
        assertEquals(ContributionKind.LOSS, e.kind());
        assertEquals("example.logit-mse", e.key());
        assertTrue(e.defaults().getBoolean("center"));
        assertEquals(64, e.defaults().getInt("chunk-size"));
    }

    @Test
    void badParametersNameTheirPath() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> loss("chunk-size = 0"));
        assertEquals("train.loss[0].params.chunk-size", e.path());
        try (NDManager step = manager.newSubManager()) {
            Loss l = loss("");
            TokenBatch batch = new TokenBatch(null, null, null, step.create(MASK, new Shape(B, T)), null);
            LossInput noTeacher = new LossInput(batch, step.create(STUDENT, new Shape(B, T, V)), List.of(), null,
                    List.of(), step);
            assertTrue(assertThrows(IllegalArgumentException.class, () -> l.compute(noTeacher)).getMessage()
                    .contains("teacher.local"));
        }
    }

    @Test
    void needsTheTeachersLogits() {
        Config defaults = module.get(0).defaults();
        assertTrue(loss("").needs().contains(Loss.Need.TEACHER_LOGITS), defaults.toString());
    }
}
