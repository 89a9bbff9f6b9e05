package org.distillery.kit.optim;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@link AdamW} against a reference written here in double precision (bias correction, decoupled
 * weight decay), at tolerance 1e-6 on parameters of magnitude about 1; clipping, non-finite
 * gradients, and state that makes a resumed optimizer continue bit for bit.
 */
class AdamWTest {

    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float EPS = 1e-8f;
    private static final float DECAY = 0.1f;
    private static final double TOLERANCE = 1e-6;

    private static final float[] A = {0.5f, -1.0f, 2.0f};
    private static final float[] B = {1.0f, 0.0f, -0.5f, 3.0f};
    /** Gradients of the steps, per parameter: the backward of Σ g·p gives exactly g. */
    private static final float[][] GRAD_A = {{0.1f, -0.2f, 0.3f}, {-0.3f, 0.1f, 0.2f}, {0.05f, 0.4f, -0.1f},
        {1.0f, -1.0f, 0.5f}};
    private static final float[][] GRAD_B = {{1.0f, -2.0f, 0.5f, 0.0f}, {0.5f, 0.5f, -1.0f, 2.0f},
        {-0.25f, 0.75f, 0.0f, 1.5f}, {0.2f, 0.2f, 0.2f, -0.2f}};

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private Map<String, NDArray> params(float[] a, float[] b) {
        Map<String, NDArray> params = new LinkedHashMap<>();
        params.put("a", manager.create(a, new Shape(3)));
        params.put("b", manager.create(b, new Shape(2, 2)));
        params.values().forEach(p -> p.setRequiresGradient(true));
        return params;
    }

    private AdamW optimizer(Map<String, NDArray> params) {
        return new AdamW(params, BETA1, BETA2, EPS, DECAY, manager);
    }

    /** Adds {@code ga}, {@code gb} to the parameters' gradients through a backward pass of Σ g·p. */
    private void backward(Map<String, NDArray> params, float[] ga, float[] gb) {
        try (NDManager step = manager.newSubManager();
             GradientCollector collector = Engine.getInstance().newGradientCollector()) {
            NDArray loss = step.create(ga, new Shape(3)).mul(params.get("a")).sum()
                    .add(step.create(gb, new Shape(2, 2)).mul(params.get("b")).sum());
            collector.backward(loss);
        }
    }

    private static float[] values(NDArray a) {
        return a.toFloatArray();
    }

    private static float[] gradient(NDArray p) {
        try (NDArray g = p.getGradient()) {
            return g.toFloatArray();
        }
    }

    /** AdamW in double over the parameters flattened a then b. */
    private static final class Reference {
        final double[] p;
        final double[] m;
        final double[] v;
        int t;

        Reference(float[] a, float[] b) {
            p = new double[a.length + b.length];
            for (int i = 0; i < p.length; i++) {
                p[i] = i < a.length ? a[i] : b[i - a.length];
            }
            m = new double[p.length];
            v = new double[p.length];
        }

        void step(float[] ga, float[] gb, double lr, double scale) {
            t++;
            double c1 = 1 - Math.pow(BETA1, t);
            double c2 = 1 - Math.pow(BETA2, t);
            for (int i = 0; i < p.length; i++) {
                double g = (i < ga.length ? ga[i] : gb[i - ga.length]) * scale;
                m[i] = BETA1 * m[i] + (1 - (double) BETA1) * g;
                v[i] = BETA2 * v[i] + (1 - (double) BETA2) * g * g;
                double update = (m[i] / c1) / (Math.sqrt(v[i] / c2) + EPS);
                p[i] = p[i] * (1 - lr * DECAY) - lr * update;
            }
        }

        void assertMatches(Map<String, NDArray> params, String what) {
            float[] a = values(params.get("a"));
            float[] b = values(params.get("b"));
            for (int i = 0; i < p.length; i++) {
                float got = i < a.length ? a[i] : b[i - a.length];
                assertEquals(p[i], got, TOLERANCE, what + ": parameter " + i);
            }
        }
    }

    @Test
    void oneStepEqualsTheHandComputation() {
        Map<String, NDArray> params = params(A, B);
        AdamW opt = optimizer(params);
        Reference ref = new Reference(A, B);
        backward(params, GRAD_A[0], GRAD_B[0]);
        opt.step(0.05, 1.0);
        ref.step(GRAD_A[0], GRAD_B[0], 0.05, 1.0);
        ref.assertMatches(params, "step 1");
        assertEquals(1, opt.steps());
        // the bias-corrected first update moves each parameter by about lr (plus the decay)
        assertEquals(0.5 * (1 - 0.05 * DECAY) - 0.05, values(params.get("a"))[0], 1e-6);
    }

    @Test
    void twoStepsEqualTheHandComputationWithGradientScaling() {
        Map<String, NDArray> params = params(A, B);
        AdamW opt = optimizer(params);
        Reference ref = new Reference(A, B);
        backward(params, GRAD_A[0], GRAD_B[0]);
        opt.step(0.05, 1.0);
        ref.step(GRAD_A[0], GRAD_B[0], 0.05, 1.0);
        AdamW.zeroGradients(params, manager);
        backward(params, GRAD_A[1], GRAD_B[1]);
        opt.step(0.02, 0.5);
        ref.step(GRAD_A[1], GRAD_B[1], 0.02, 0.5);
        ref.assertMatches(params, "step 2");
        assertEquals(2, opt.steps());
    }

    @Test
    void withoutWeightDecayOnlyTheAdamUpdateMovesTheParameters() {
        Map<String, NDArray> params = params(A, B);
        AdamW opt = new AdamW(params, BETA1, BETA2, EPS, 0f, manager);
        backward(params, GRAD_A[0], GRAD_B[0]);
        opt.step(0.05, 1.0);
        // step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps); 0 where g is 0
        float[] b = values(params.get("b"));
        assertEquals(1.0 - 0.05, b[0], 1e-6);
        assertEquals(0.0 + 0.05, b[1], 1e-6);
        assertEquals(3.0, b[3], 0.0, "a zero gradient and no decay leave the parameter as it was");
    }

    @Test
    void stepClippedClipsToTheNormAndReturnsTheNormBeforeClipping() throws IOException {
        double norm = 0;
        for (float g : GRAD_A[0]) {
            norm += g * g;
        }
        for (float g : GRAD_B[0]) {
            norm += g * g;
        }
        norm = Math.sqrt(norm);
        double clip = norm / 4;
        double scale = clip / (norm + 1e-6);

        Map<String, NDArray> params = params(A, B);
        AdamW opt = optimizer(params);
        backward(params, GRAD_A[0], GRAD_B[0]);
        assertEquals(norm, opt.stepClipped(0.05, clip), 1e-6, "the norm before clipping");
        Reference ref = new Reference(A, B);
        ref.step(GRAD_A[0], GRAD_B[0], 0.05, scale);
        ref.assertMatches(params, "clipped step");
        // the first moment is (1 - beta1) times the gradient actually used: the clipped one
        Map<String, float[]> state = state(opt);
        for (int i = 0; i < 3; i++) {
            assertEquals((1 - BETA1) * GRAD_A[0][i] * scale, state.get("m.a")[i], 1e-7, "m.a " + i);
        }
        float[] clippedSquares = state.get("v.b");
        assertEquals((1 - BETA2) * Math.pow(GRAD_B[0][1] * scale, 2), clippedSquares[1], 1e-9, "v.b 1");
        assertZero(gradient(params.get("a")), "gradients are zeroed after the step");
        assertZero(gradient(params.get("b")));

        // a norm below the limit, and a limit of 0, leave the gradient as it is
        for (double limit : new double[] {norm * 2, 0}) {
            Map<String, NDArray> p2 = params(A, B);
            AdamW opt2 = optimizer(p2);
            backward(p2, GRAD_A[0], GRAD_B[0]);
            assertEquals(norm, opt2.stepClipped(0.05, limit), 1e-6);
            assertEquals((1 - BETA1) * GRAD_A[0][2], state(opt2).get("m.a")[2], 1e-7, "limit " + limit);
        }
    }

    @Test
    void aNonFiniteGradientMakesNoUpdateAndLeavesZeroGradients() {
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            Map<String, NDArray> params = params(A, B);
            AdamW opt = optimizer(params);
            backward(params, new float[] {0.1f, bad, 0.3f}, GRAD_B[0]);
            assertTrue(Double.isNaN(opt.stepClipped(0.05, 1.0)), "NaN norm for a gradient with " + bad);
            assertArrayEquals(A, values(params.get("a")), "no update with " + bad);
            assertArrayEquals(B, values(params.get("b")));
            assertEquals(0, opt.steps(), "the step is not counted");
            assertZero(gradient(params.get("a")), "the bad gradient is cleared");
            assertZero(gradient(params.get("b")));

            // the next good step is the first one: moments and step count were untouched
            backward(params, GRAD_A[0], GRAD_B[0]);
            opt.stepClipped(0.05, 0);
            Reference ref = new Reference(A, B);
            ref.step(GRAD_A[0], GRAD_B[0], 0.05, 1.0);
            ref.assertMatches(params, "first good step after " + bad);
        }
    }

    @Test
    void gradientNormIsTheGlobalL2Norm() {
        Map<String, NDArray> params = params(A, B);
        backward(params, GRAD_A[2], GRAD_B[2]);
        double sq = 0;
        for (float g : GRAD_A[2]) {
            sq += g * g;
        }
        for (float g : GRAD_B[2]) {
            sq += g * g;
        }
        assertEquals(Math.sqrt(sq), AdamW.gradientNorm(params, manager), 1e-6);
    }

    @Test
    void zeroGradientsClearsANanGradientForGood() {
        Map<String, NDArray> params = params(A, B);
        backward(params, new float[] {Float.NaN, 1f, Float.POSITIVE_INFINITY}, GRAD_B[0]);
        AdamW.zeroGradients(params, manager);
        assertZero(gradient(params.get("a")));
        assertZero(gradient(params.get("b")));
        // the cleared gradient must still be the engine's own memory: after garbage collection and
        // fresh allocations of the same size, the next backward accumulates onto exact zeros
        List<ByteBuffer> noise = collectAndOverwriteFreedMemory();
        assertZero(gradient(params.get("a")), "still zero after garbage collection");
        backward(params, GRAD_A[0], GRAD_B[0]);
        assertArrayEquals(GRAD_A[0], gradient(params.get("a")), "the next backward starts from zero");
        assertEquals(1000, noise.size());
    }

    @Test
    void aLoadedOptimizerContinuesBitForBit() throws IOException {
        Map<String, NDArray> original = params(A, B);
        AdamW first = optimizer(original);
        for (int s = 0; s < 2; s++) {
            backward(original, GRAD_A[s], GRAD_B[s]);
            first.stepClipped(0.05, 0);
        }
        byte[] saved = save(first);

        Map<String, NDArray> resumed = params(values(original.get("a")), values(original.get("b")));
        AdamW second = optimizer(resumed);
        second.load(new ByteArrayInputStream(saved));
        assertEquals(2, second.steps());
        List<ByteBuffer> noise = collectAndOverwriteFreedMemory();
        for (int s = 2; s < 4; s++) {
            backward(original, GRAD_A[s], GRAD_B[s]);
            first.stepClipped(0.05, 0);
            backward(resumed, GRAD_A[s], GRAD_B[s]);
            second.stepClipped(0.05, 0);
            assertArrayEquals(values(original.get("a")), values(resumed.get("a")), "a after step " + (s + 1));
            assertArrayEquals(values(original.get("b")), values(resumed.get("b")), "b after step " + (s + 1));
        }
        assertArrayEquals(save(first), save(second), "the saved states agree too");
        assertEquals(1000, noise.size());

        Reference ref = new Reference(A, B);
        for (int s = 0; s < 4; s++) {
            ref.step(GRAD_A[s], GRAD_B[s], 0.05, 1.0);
        }
        ref.assertMatches(resumed, "four steps across a save and load");
    }

    @Test
    void loadRefusesStateOfOtherParameters() throws IOException {
        Map<String, NDArray> params = params(A, B);
        byte[] saved = save(optimizer(params));

        Map<String, NDArray> renamed = new LinkedHashMap<>();
        renamed.put("a", manager.create(A, new Shape(3)));
        renamed.put("c", manager.create(B, new Shape(2, 2)));
        IOException e = assertThrows(IOException.class,
                () -> optimizer(renamed).load(new ByteArrayInputStream(saved)));
        assertTrue(e.getMessage().contains("parameter c"), e.getMessage());

        Map<String, NDArray> reshaped = new LinkedHashMap<>();
        reshaped.put("a", manager.create(A, new Shape(3)));
        reshaped.put("b", manager.create(B, new Shape(4)));
        e = assertThrows(IOException.class, () -> optimizer(reshaped).load(new ByteArrayInputStream(saved)));
        assertTrue(e.getMessage().contains("parameter b"), e.getMessage());

        ByteArrayOutputStream noStep = new ByteArrayOutputStream();
        try (NDManager m = manager.newSubManager()) {
            NDArray ma = m.zeros(new Shape(3));
            ma.setName("m.a");
            new NDList(ma).encode(noStep);
        }
        e = assertThrows(IOException.class,
                () -> optimizer(params).load(new ByteArrayInputStream(noStep.toByteArray())));
        assertTrue(e.getMessage().contains("step count"), e.getMessage());
    }

    /**
     * Runs the garbage collector and allocates direct buffers of the parameters' sizes filled with
     * 0x7f, so that memory a Java buffer held and lost is reused and overwritten; the caller keeps
     * the buffers until its last check.
     */
    private static List<ByteBuffer> collectAndOverwriteFreedMemory() {
        List<ByteBuffer> noise = new ArrayList<>();
        for (int round = 0; round < 5; round++) {
            System.gc();
            for (int i = 0; i < 100; i++) {
                for (int size : new int[] {12, 16}) {
                    ByteBuffer b = ByteBuffer.allocateDirect(size);
                    while (b.hasRemaining()) {
                        b.put((byte) 0x7f);
                    }
                    noise.add(b);
                }
            }
        }
        return noise;
    }

    /** Every entry is 0 (either sign: {@code -g * 0} is {@code -0.0}). */
    private static void assertZero(float[] values, String... what) {
        for (int i = 0; i < values.length; i++) {
            assertEquals(0f, Math.abs(values[i]), 0f, String.join(" ", what) + " at " + i);
        }
    }

    private static byte[] save(AdamW opt) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        opt.save(out);
        return out.toByteArray();
    }

    /** The saved moments by name ({@code m.a}, {@code v.b}, ...). */
    private Map<String, float[]> state(AdamW opt) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager m = manager.newSubManager()) {
            for (NDArray a : NDList.decode(m, save(opt))) {
                if (!a.getName().equals("t")) {
                    out.put(a.getName(), a.toFloatArray());
                }
            }
        }
        return out;
    }
}
