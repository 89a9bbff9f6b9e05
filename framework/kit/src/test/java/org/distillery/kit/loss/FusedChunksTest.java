package org.distillery.kit.loss;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.LossInput;
import org.distillery.api.model.Logits;
import org.distillery.api.model.OutputHead;
import org.distillery.api.teacher.TeacherOutput;

/**
 * The fused output layer in {@link Chunks}: logits computed per chunk from hidden states and an
 * {@link OutputHead} give the value and the gradients w.r.t. the hidden states, the head weight and
 * its bias of the materialised path (and of a hand computation in double), with and without the
 * step's collector, for every chunk size; bias, scaling and soft-capping follow the formula; the
 * fallback materialises once; teacher logits are sliced or computed per chunk.
 *
 * <p>Tolerances: values 1e-5 relative (magnitude about 10), gradients 1e-5 absolute + 1e-4 relative
 * (float32 matmuls summed in another order than the reference).
 */
class FusedChunksTest {

    private static final int B = 2;
    private static final int T = 5;
    private static final int D = 4;
    private static final int V = 6;
    private static final int[] CHUNK_SIZES = {1, 2, T, T + 3};

    private static NDManager manager;
    private static float[] hidden;
    private static float[] weight;
    private static float[] bias;
    private static long[] targets;
    private static float[] mask;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        Random random = new Random(5);
        hidden = gaussian(random, B * T * D, 1.5);
        weight = gaussian(random, V * D, 1.0);
        bias = gaussian(random, V, 0.5);
        targets = new long[B * T];
        mask = new float[B * T];
        for (int p = 0; p < B * T; p++) {
            targets[p] = random.nextInt(V);
            mask[p] = p % 4 == 0 ? 0 : 1;
        }
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    private static float[] gaussian(Random random, int n, double sigma) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (sigma * random.nextGaussian());
        }
        return x;
    }

    /** Leaves: hidden states, head weight and (optional) bias, each recording its gradient. */
    private record Leaves(NDArray hidden, OutputHead head) {
        static Leaves of(NDManager m, boolean withBias, double scale, double cap) {
            NDArray h = m.create(FusedChunksTest.hidden, new Shape(B, T, D));
            NDArray w = m.create(weight, new Shape(V, D));
            NDArray b = withBias ? m.create(bias, new Shape(V)) : null;
            h.setRequiresGradient(true);
            w.setRequiresGradient(true);
            if (b != null) {
                b.setRequiresGradient(true);
            }
            return new Leaves(h, new OutputHead(w, b, scale, cap));
        }
    }

    private static LossInput input(NDManager step, Logits logits, GradientCollector gradients) {
        TokenBatch batch = new TokenBatch(null, null, step.create(targets, new Shape(B, T)),
                step.create(mask, new Shape(B, T)), null);
        return new LossInput(batch, logits, List.of(), null, List.of(), step, gradients);
    }

    private static Chunks.Body crossEntropy(LossInput in) {
        return (chunk, positions, z) -> {
            NDArray ids = Chunks.sliceIds(in.batch().targets(), positions, chunk).expandDims(-1);
            NDArray logQ = z.logSoftmax(-1).gather(ids, -1).squeeze(-1);
            return logQ.neg().mul(Chunks.slice(in.batch().lossMask(), positions, chunk)).sum();
        };
    }

    /** What one run gave: value, d/d hidden, d/d weight, d/d bias (or null). */
    private record Run(float value, float[] hidden, float[] weight, float[] bias) {
    }

    /** Runs the masked cross-entropy: fused or materialised, with or without the collector in the input. */
    private static Run run(boolean fused, boolean collectorInInput, int chunkSize, boolean withBias, double scale,
                           double cap) {
        try (NDManager step = manager.newSubManager()) {
            Leaves leaves = Leaves.of(step, withBias, scale, cap);
            float value;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                Logits logits = fused ? Logits.fused(leaves.hidden(), leaves.head())
                        : Logits.of(leaves.head().apply(leaves.hidden()));
                LossInput in = input(step, logits, collectorInInput ? gc : null);
                NDArray sum = Chunks.sum(in.logits(), chunkSize, in, crossEntropy(in));
                assertSame(step, sum.getManager(), "the sum lives in the input's manager");
                value = sum.getFloat();
                gc.backward(sum);
            }
            return new Run(value, leaves.hidden().getGradient().toFloatArray(),
                    leaves.head().weight().getGradient().toFloatArray(),
                    withBias ? leaves.head().bias().getGradient().toFloatArray() : null);
        }
    }

    /** The masked cross-entropy of the plain head in double, and its gradients w.r.t. hidden states and weight. */
    private static double reference(double[] dHidden, double[] dWeight) {
        double sum = 0;
        for (int p = 0; p < B * T; p++) {
            double[] z = new double[V];
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                for (int d = 0; d < D; d++) {
                    z[v] += (double) hidden[p * D + d] * weight[v * D + d];
                }
                max = Math.max(max, z[v]);
            }
            double norm = 0;
            for (int v = 0; v < V; v++) {
                norm += Math.exp(z[v] - max);
            }
            double logNorm = max + Math.log(norm);
            sum += mask[p] * (logNorm - z[(int) targets[p]]);
            for (int v = 0; v < V; v++) {
                double g = mask[p] * (Math.exp(z[v] - logNorm) - (v == targets[p] ? 1 : 0));
                for (int d = 0; d < D; d++) {
                    dHidden[p * D + d] += g * weight[v * D + d];
                    dWeight[v * D + d] += g * hidden[p * D + d];
                }
            }
        }
        return sum;
    }

    private static void assertClose(double[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5 + 1e-4 * Math.abs(expected[i]), what + "[" + i + "]");
        }
    }

    private static void assertClose(float[] expected, float[] actual, String what) {
        assertEquals(expected.length, actual.length, what);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-5 + 1e-4 * Math.abs(expected[i]), what + "[" + i + "]");
        }
    }

    @Test
    void fusedValueAndGradientsEqualAHandComputation() {
        double[] dHidden = new double[B * T * D];
        double[] dWeight = new double[V * D];
        double expected = reference(dHidden, dWeight);
        for (int chunk : CHUNK_SIZES) {
            for (boolean collector : new boolean[] {true, false}) {
                Run r = run(true, collector, chunk, false, 1, 0);
                String what = "chunk " + chunk + (collector ? ", chunk gradients" : ", one backward");
                assertEquals(expected, r.value(), 1e-5 * expected, what);
                assertClose(dHidden, r.hidden(), what + ", d/d hidden");
                assertClose(dWeight, r.weight(), what + ", d/d weight");
            }
        }
    }

    @Test
    void fusedEqualsMaterialisedWithBiasScaleAndSoftCap() {
        Run materialised = run(false, true, 2, true, 0.7, 3.0);
        for (int chunk : CHUNK_SIZES) {
            for (boolean collector : new boolean[] {true, false}) {
                Run fused = run(true, collector, chunk, true, 0.7, 3.0);
                String what = "chunk " + chunk + (collector ? ", chunk gradients" : ", one backward");
                assertEquals(materialised.value(), fused.value(), 1e-5 * Math.abs(materialised.value()), what);
                assertClose(materialised.hidden(), fused.hidden(), what + ", d/d hidden");
                assertClose(materialised.weight(), fused.weight(), what + ", d/d weight");
                assertClose(materialised.bias(), fused.bias(), what + ", d/d bias");
            }
        }
    }

    @Test
    void headFormulaIsBiasThenScaleThenSoftCap() {
        try (NDManager m = manager.newSubManager()) {
            Leaves leaves = Leaves.of(m, true, 0.7, 3.0);
            float[] z = leaves.head().apply(leaves.hidden()).toFloatArray();
            for (int p = 0; p < B * T; p++) {
                for (int v = 0; v < V; v++) {
                    double x = bias[v];
                    for (int d = 0; d < D; d++) {
                        x += (double) hidden[p * D + d] * weight[v * D + d];
                    }
                    double expected = 3.0 * Math.tanh(x * 0.7 / 3.0);
                    assertEquals(expected, z[p * V + v], 1e-5, "logit " + p + ", " + v);
                }
            }
            OutputHead plain = OutputHead.of(leaves.head().weight());
            assertArrayEquals(leaves.hidden().matMul(leaves.head().weight().transpose()).toFloatArray(),
                    plain.apply(leaves.hidden()).toFloatArray(), 1e-6f);
        }
    }

    @Test
    void frozenHeadGetsNoGradientAndTheHiddenStatesStillDo() {
        double[] dHidden = new double[B * T * D];
        reference(dHidden, new double[V * D]);
        try (NDManager step = manager.newSubManager()) {
            NDArray h = step.create(hidden, new Shape(B, T, D));
            h.setRequiresGradient(true);
            OutputHead frozen = OutputHead.of(step.create(weight, new Shape(V, D)));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossInput in = input(step, Logits.fused(h, frozen), gc);
                gc.backward(Chunks.sum(in.logits(), 2, in, crossEntropy(in)));
            }
            assertFalse(frozen.weight().hasGradient());
            assertClose(dHidden, h.getGradient().toFloatArray(), "d/d hidden");
        }
    }

    @Test
    void studentLogitsMaterialiseOnceAndKeepTheGradients() {
        Run chunked = run(true, true, 2, true, 0.7, 3.0);
        try (NDManager step = manager.newSubManager()) {
            Leaves leaves = Leaves.of(step, true, 0.7, 3.0);
            float value;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossInput in = input(step, Logits.fused(leaves.hidden(), leaves.head()), gc);
                assertFalse(in.logits().isMaterialised());
                NDArray full = in.studentLogits();
                assertSame(full, in.studentLogits(), "materialised once per input");
                assertTrue(in.logits().isMaterialised() && in.logits().isFused());
                assertEquals(new Shape(B, T, V), full.getShape());
                // a loss that reads every logit at once: the body over all positions
                NDArray sum = crossEntropy(in).apply(step, new NDIndex(":, 0:{}", T), full);
                value = sum.getFloat();
                gc.backward(sum);
            }
            assertEquals(chunked.value(), value, 1e-5 * Math.abs(value));
            assertClose(chunked.hidden(), leaves.hidden().getGradient().toFloatArray(), "d/d hidden");
            assertClose(chunked.weight(), leaves.head().weight().getGradient().toFloatArray(), "d/d weight");
            assertClose(chunked.bias(), leaves.head().bias().getGradient().toFloatArray(), "d/d bias");
        }
    }

    @Test
    void sliceOfFusedLogitsIsTheHeadOverThoseHiddenStates() {
        try (NDManager step = manager.newSubManager()) {
            Leaves leaves = Leaves.of(step, true, 0.7, 3.0);
            Logits fused = Logits.fused(leaves.hidden(), leaves.head());
            NDArray full = leaves.head().apply(leaves.hidden());
            NDIndex positions = new NDIndex(":, 1:4");
            try (NDManager chunk = step.newSubManager()) {
                NDArray slice = Chunks.slice(fused, positions, chunk);
                assertSame(chunk, slice.getManager());
                assertEquals(new Shape(B, 3, V), slice.getShape());
                assertArrayEquals(full.get(positions).toFloatArray(), slice.toFloatArray(), 1e-6f);
                assertArrayEquals(full.get(positions).toFloatArray(),
                        Chunks.slice(Logits.of(full), positions, chunk).toFloatArray(), 0f);
            }
            assertFalse(fused.isMaterialised(), "a slice does not materialise");
        }
    }

    @Test
    void truncationKeepsTheFirstLogitsOnBothPaths() {
        try (NDManager step = manager.newSubManager()) {
            Leaves leaves = Leaves.of(step, true, 0.7, 3.0);
            NDArray full = leaves.head().apply(leaves.hidden());
            Logits fused = Logits.fused(leaves.hidden(), leaves.head()).truncated(4);
            assertTrue(fused.isFused());
            assertEquals(new Shape(B, T, 4), fused.shape());
            assertArrayEquals(full.get(":, :, :4").toFloatArray(), fused.full().toFloatArray(), 1e-6f);
            assertArrayEquals(full.get(":, :, :4").toFloatArray(), Logits.of(full).truncated(4).full().toFloatArray(), 0f);
            assertThrows(IllegalArgumentException.class, () -> leaves.head().truncated(V + 1));
        }
    }

    @Test
    void fusedChunksHoldAboutTwiceAsManyLogitsAsTheHiddenStatesHoldNumbers() {
        // B 8, T 512, width 512, vocab 32000: 2·4096·512/32000 = 131 rows -> 128 rows = 16 positions
        assertEquals(16, Chunks.fusedChunkSize(64, 8, 512, 512, 32000));
        // a small vocabulary: 2·2560·64/259 = 1265 rows -> 1024 rows = 64 positions
        assertEquals(64, Chunks.fusedChunkSize(64, 16, 160, 64, 259));
        // ... bounded by the loss's chunk size
        assertEquals(32, Chunks.fusedChunkSize(32, 16, 160, 64, 259));
        // the loss's chunk size bounds it
        assertEquals(64, Chunks.fusedChunkSize(64, 8, 512, 4096, 32000));
        // never below one position
        assertEquals(1, Chunks.fusedChunkSize(64, 64, 8, 1, 1_000_000));
    }

    @Test
    void theProbeSeesEveryFusedChunk() throws Exception {
        AtomicInteger probes = new AtomicInteger();
        try (NDManager step = manager.newSubManager()) {
            Leaves leaves = Leaves.of(step, false, 1, 0);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossInput in = input(step, Logits.fused(leaves.hidden(), leaves.head()), gc);
                Chunks.probed(probes::incrementAndGet, () -> Chunks.sum(in.logits(), 2, in, crossEntropy(in)));
            }
        }
        assertEquals(3, probes.get(), "5 positions in chunks of 2");
    }

    @Test
    void fusedTeacherOutputMaterialisesOnDemand() {
        try (NDManager step = manager.newSubManager()) {
            Leaves leaves = Leaves.of(step, false, 1, 0);
            Logits fused = Logits.fused(leaves.hidden(), leaves.head());
            TeacherOutput out = new TeacherOutput(fused, List.of());
            assertTrue(out.hasLogits());
            assertSame(fused, out.logitsView());
            assertFalse(fused.isMaterialised());
            NDArray logits = out.logits();
            assertSame(logits, out.logits(), "materialised once");
            assertEquals(new Shape(B, T, V), logits.getShape());
            TeacherOutput plain = new TeacherOutput(logits, null, null, null, List.of());
            assertFalse(plain.logitsView().isFused());
            assertNull(plain.fused());
            TeacherOutput topK = new TeacherOutput(null, logits, logits, logits, List.of());
            assertFalse(topK.hasLogits());
            assertNull(topK.logitsView());
            assertThrows(IllegalArgumentException.class,
                    () -> new TeacherOutput(logits, null, null, null, List.of(), List.of(), fused));
            assertThrows(IllegalArgumentException.class, () -> Logits.fused(leaves.hidden(),
                    OutputHead.of(step.zeros(new Shape(V, D + 1)))));
        }
    }

    @Test
    void aFusedStepLeavesNothingInTheModelsManager() {
        try (NDManager model = manager.newSubManager()) {
            NDArray w = model.create(weight, new Shape(V, D));
            NDArray b = model.create(bias, new Shape(V));
            w.setRequiresGradient(true);
            b.setRequiresGradient(true);
            OutputHead head = new OutputHead(w, b, 1.0, 0.0);
            int before = model.getManagedArrays().size();
            for (int step = 0; step < 3; step++) {
                for (boolean truncate : new boolean[] {false, true}) {
                    try (NDManager stepScope = manager.newSubManager()) {
                        NDArray h = stepScope.create(hidden, new Shape(B, T, D));
                        h.setRequiresGradient(true);
                        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                            Logits logits = Logits.fused(h, head);
                            if (truncate) {
                                logits = logits.truncated(V - 1);
                            }
                            LossInput in = input(stepScope, logits, gc);
                            NDArray sum = Chunks.sum(in.logits(), 2, in, (chunk, positions, z) -> z.logSoftmax(-1)
                                    .get(":, :, 0").mul(Chunks.slice(in.batch().lossMask(), positions, chunk)).sum()
                                    .neg());
                            gc.backward(sum);
                        }
                    }
                    assertEquals(before, model.getManagedArrays().size(), "arrays left in the model's manager after step "
                            + step + (truncate ? " (truncated head)" : ""));
                }
            }
        }
    }
}
