package org.distillery.kit.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.LossInput;

/**
 * {@link Chunks}: the chunked sum equals the whole sum for every chunk size, the chunk-gradient
 * path gives the gradient of a single plain backward (and of a hand computation in double),
 * infinite logits stay out of the surrogate, and the probe sees every chunk. Tolerance 1e-5 on
 * values of magnitude about 10.
 */
class ChunksTest {

    private static final int B = 2;
    private static final int T = 5;
    private static final int V = 6;
    private static final int[] CHUNK_SIZES = {1, 2, T, T + 3};
    private static final double TOLERANCE = 1e-5;

    private static NDManager manager;
    private static float[] logits;
    private static long[] targets;
    private static float[] mask;
    private static float[] weights;

    @BeforeAll
    static void setUp() {
        manager = NDManager.newBaseManager();
        Random random = new Random(11);
        logits = new float[B * T * V];
        for (int i = 0; i < logits.length; i++) {
            logits[i] = (float) (random.nextGaussian() * 2);
        }
        targets = new long[B * T];
        mask = new float[B * T];
        weights = new float[B * T];
        for (int p = 0; p < B * T; p++) {
            targets[p] = random.nextInt(V);
            mask[p] = p % 4 == 0 ? 0 : 1;
            weights[p] = 0.5f + p;
        }
    }

    @AfterAll
    static void tearDown() {
        manager.close();
    }

    /** Masked cross-entropy of the targets, summed: the kind of body a loss bundle writes. */
    private static Chunks.Body crossEntropy(NDArray targetIds, NDArray lossMask) {
        return (chunk, positions, z) -> {
            NDArray ids = Chunks.sliceIds(targetIds, positions, chunk).expandDims(-1);
            NDArray logQ = z.logSoftmax(-1).gather(ids, -1).squeeze(-1);
            return logQ.neg().mul(Chunks.slice(lossMask, positions, chunk)).sum();
        };
    }

    /** Σ w·z² over positions and vocabulary: gradient 2·w·z, easy to compute by hand. */
    private static Chunks.Body weightedSquares(NDArray w) {
        return (chunk, positions, z) -> z.square().sum(new int[] {-1}).mul(Chunks.slice(w, positions, chunk)).sum();
    }

    private static LossInput input(NDManager step, NDArray studentLogits, GradientCollector gradients) {
        TokenBatch batch = new TokenBatch(null, null, step.create(targets, new Shape(B, T)),
                step.create(mask, new Shape(B, T)), null);
        return new LossInput(batch, studentLogits, List.of(), null, List.of(), step, gradients);
    }

    /** Masked cross-entropy and its gradient (softmax − one-hot, masked), in double. */
    private static double crossEntropyReference(float[] z, double[] gradient) {
        double sum = 0;
        for (int p = 0; p < B * T; p++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int v = 0; v < V; v++) {
                max = Math.max(max, z[p * V + v]);
            }
            double norm = 0;
            for (int v = 0; v < V; v++) {
                norm += Math.exp(z[p * V + v] - max);
            }
            double logZ = max + Math.log(norm);
            sum += mask[p] * (logZ - z[(int) (p * V + targets[p])]);
            for (int v = 0; v < V; v++) {
                double q = Math.exp(z[p * V + v] - logZ);
                gradient[p * V + v] = mask[p] * (q - (v == targets[p] ? 1 : 0));
            }
        }
        return sum;
    }

    @Test
    void chunkedSumsEqualTheUnchunkedValue() {
        double expected = crossEntropyReference(logits, new double[B * T * V]);
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.create(logits, new Shape(B, T, V));
            LossInput in = input(step, z, null);
            Chunks.Body body = crossEntropy(in.batch().targets(), in.batch().lossMask());
            float whole = body.apply(step, new ai.djl.ndarray.index.NDIndex(":, 0:{}", T), z).getFloat();
            assertEquals(expected, whole, TOLERANCE, "the body over all positions at once");
            for (int chunk : CHUNK_SIZES) {
                NDArray sum = Chunks.sum(z, chunk, in, body);
                assertEquals(expected, sum.getFloat(), TOLERANCE, "chunk size " + chunk);
                assertEquals(DataType.FLOAT32, sum.getDataType());
                assertEquals(new Shape(), sum.getShape());
                assertSame(step, sum.getManager(), "the sum lives in the input's manager");
            }
        }
    }

    @Test
    void logitsOfAnotherTypeReachTheBodyAsFloat32() {
        double expected = crossEntropyReference(logits, new double[B * T * V]);
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.create(logits, new Shape(B, T, V)).toType(DataType.FLOAT64, false);
            LossInput in = input(step, z, null);
            NDArray ids32 = in.batch().targets().toType(DataType.INT32, false);
            List<DataType> seen = new ArrayList<>();
            NDArray sum = Chunks.sum(z, 2, in, (chunk, positions, chunkLogits) -> {
                seen.add(chunkLogits.getDataType());
                seen.add(Chunks.sliceIds(ids32, positions, chunk).getDataType());
                return crossEntropy(in.batch().targets(), in.batch().lossMask()).apply(chunk, positions, chunkLogits);
            });
            assertEquals(expected, sum.getFloat(), TOLERANCE);
            assertTrue(seen.stream().allMatch(t -> t == DataType.FLOAT32 || t == DataType.INT64), seen.toString());
        }
    }

    @Test
    void chunkGradientsEqualTheGradientOfOnePlainBackward() {
        double[] expectedGradient = new double[B * T * V];
        double expected = crossEntropyReference(logits, expectedGradient);
        float[] plain = null;
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.create(logits, new Shape(B, T, V));
            z.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                // no collector in the input: one graph, one backward
                LossInput in = input(step, z, null);
                NDArray sum = Chunks.sum(z, 2, in, crossEntropy(in.batch().targets(), in.batch().lossMask()));
                gc.backward(sum);
            }
            plain = z.getGradient().toFloatArray();
        }
        for (int i = 0; i < plain.length; i++) {
            assertEquals(expectedGradient[i], plain[i], TOLERANCE, "plain gradient " + i);
        }
        for (int chunk : CHUNK_SIZES) {
            try (NDManager step = manager.newSubManager()) {
                NDArray z = step.create(logits, new Shape(B, T, V));
                z.setRequiresGradient(true);
                float value;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    LossInput in = input(step, z, gc);
                    NDArray sum = Chunks.sum(z, chunk, in, crossEntropy(in.batch().targets(), in.batch().lossMask()));
                    value = sum.getFloat();
                    gc.backward(sum);
                }
                assertEquals(expected, value, TOLERANCE, "value with chunk gradients, chunk size " + chunk);
                float[] chunked = z.getGradient().toFloatArray();
                for (int i = 0; i < chunked.length; i++) {
                    assertEquals(plain[i], chunked[i], TOLERANCE, "chunk size " + chunk + ", gradient " + i);
                }
            }
        }
    }

    @Test
    void chunkGradientsReachWhatTheLogitsWereComputedFrom() {
        // logits = 3·x: the surrogate's gradient must flow through the recorded graph to x
        for (int chunk : CHUNK_SIZES) {
            try (NDManager step = manager.newSubManager()) {
                NDArray x = step.create(logits, new Shape(B, T, V));
                x.setRequiresGradient(true);
                NDArray w = step.create(weights, new Shape(B, T));
                float value;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray z = x.mul(Scalars.of(x, 3));
                    NDArray sum = Chunks.sum(z, chunk, input(step, z, gc), weightedSquares(w));
                    value = sum.getFloat();
                    gc.backward(sum);
                }
                float[] gradient = x.getGradient().toFloatArray();
                double expected = 0;
                for (int p = 0; p < B * T; p++) {
                    for (int v = 0; v < V; v++) {
                        double zi = 3.0 * logits[p * V + v];
                        expected += weights[p] * zi * zi;
                        // d/dx of w·(3x)² = 18·w·x
                        assertEquals(18.0 * weights[p] * logits[p * V + v], gradient[p * V + v],
                                1e-4 * Math.max(1, Math.abs(gradient[p * V + v])), "chunk " + chunk + " at " + p);
                    }
                }
                assertEquals(expected, value, 1e-6 * expected, "chunk " + chunk);
            }
        }
    }

    @Test
    void withoutRecordedLogitsACollectorChangesNothing() {
        double expected = crossEntropyReference(logits, new double[B * T * V]);
        try (NDManager step = manager.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            NDArray z = step.create(logits, new Shape(B, T, V));
            LossInput in = input(step, z, gc);
            NDArray sum = Chunks.sum(z, 3, in, crossEntropy(in.batch().targets(), in.batch().lossMask()));
            assertEquals(expected, sum.getFloat(), TOLERANCE);
        }
    }

    @Test
    void infiniteLogitsGetGradientZeroAndNoNaN() {
        float[] z = logits.clone();
        // a masked vocabulary entry (-inf) at every position but the target, and +inf at two places
        for (int p = 0; p < B * T; p++) {
            int masked = (int) ((targets[p] + 1) % V);
            z[p * V + masked] = Float.NEGATIVE_INFINITY;
        }
        z[3] = Float.POSITIVE_INFINITY;
        z[V * 7 + 1] = Float.POSITIVE_INFINITY;
        // a body that skips infinite entries: Σ w·z² over the finite ones, gradient 2·w·z there
        for (int chunk : CHUNK_SIZES) {
            try (NDManager step = manager.newSubManager()) {
                NDArray recorded = step.create(z, new Shape(B, T, V));
                recorded.setRequiresGradient(true);
                NDArray w = step.create(weights, new Shape(B, T));
                float value;
                try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                    NDArray sum = Chunks.sum(recorded, chunk, input(step, recorded, gc), (c, positions, l) -> {
                        NDArray finite = NDArrays.where(l.isInfinite(), l.zerosLike(), l);
                        return weightedSquares(w).apply(c, positions, finite);
                    });
                    value = sum.getFloat();
                    gc.backward(sum);
                }
                double expected = 0;
                float[] gradient = recorded.getGradient().toFloatArray();
                for (int p = 0; p < B * T; p++) {
                    for (int v = 0; v < V; v++) {
                        float zi = z[p * V + v];
                        if (Float.isInfinite(zi)) {
                            assertEquals(0f, gradient[p * V + v], 0f, "gradient at an infinite logit");
                        } else {
                            expected += weights[p] * zi * zi;
                            assertEquals(2.0 * weights[p] * zi, gradient[p * V + v], 1e-4, "gradient at " + p);
                        }
                    }
                }
                assertFalse(Float.isNaN(value), "chunk " + chunk);
                assertEquals(expected, value, 1e-5 * expected, "chunk " + chunk);
            }
        }
        // and a softmax body over -inf logits: probability 0 there, so gradient 0, the rest as a plain backward
        for (int p = 0; p < B * T * V; p++) {
            if (z[p] == Float.POSITIVE_INFINITY) {
                z[p] = 1f;
            }
        }
        float[] plain;
        try (NDManager step = manager.newSubManager()) {
            NDArray recorded = step.create(z, new Shape(B, T, V));
            recorded.setRequiresGradient(true);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossInput in = input(step, recorded, null);
                gc.backward(Chunks.sum(recorded, T, in, crossEntropy(in.batch().targets(), in.batch().lossMask())));
            }
            plain = recorded.getGradient().toFloatArray();
        }
        try (NDManager step = manager.newSubManager()) {
            NDArray recorded = step.create(z, new Shape(B, T, V));
            recorded.setRequiresGradient(true);
            float value;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossInput in = input(step, recorded, gc);
                NDArray sum = Chunks.sum(recorded, 2, in, crossEntropy(in.batch().targets(), in.batch().lossMask()));
                value = sum.getFloat();
                gc.backward(sum);
            }
            assertTrue(Float.isFinite(value), "value " + value);
            float[] chunked = recorded.getGradient().toFloatArray();
            for (int i = 0; i < chunked.length; i++) {
                assertTrue(Float.isFinite(chunked[i]), "gradient " + i);
                if (z[i] == Float.NEGATIVE_INFINITY) {
                    assertEquals(0f, chunked[i], 0f, "gradient at a masked entry " + i);
                }
                assertEquals(plain[i], chunked[i], TOLERANCE, "gradient " + i);
            }
        }
    }

    @Test
    void probedCallsTheProbeOncePerChunkAndRestoresThePreviousProbe() throws Exception {
        AtomicInteger outer = new AtomicInteger();
        AtomicInteger inner = new AtomicInteger();
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.create(logits, new Shape(B, T, V));
            LossInput in = input(step, z, null);
            Chunks.Body body = crossEntropy(in.batch().targets(), in.batch().lossMask());
            int chunks = Chunks.probed(outer::incrementAndGet, () -> {
                Chunks.sum(z, 2, in, body);                         // 3 chunks: outer
                int n = Chunks.probed(inner::incrementAndGet, () -> {
                    Chunks.sum(z, 1, in, body);                     // 5 chunks: inner
                    return inner.get();
                });
                Chunks.sum(z, T, in, body);                         // 1 chunk: outer again
                return n;
            });
            assertEquals(5, chunks);
            assertEquals(5, inner.get());
            assertEquals(4, outer.get());

            // a failing action restores the previous probe too
            assertThrows(IllegalStateException.class, () -> Chunks.probed(inner::incrementAndGet, () -> {
                throw new IllegalStateException("fails");
            }));
            Chunks.sum(z, 1, in, body);
            assertEquals(5, inner.get(), "no probe outside probed");
            assertEquals(4, outer.get());

            // the chunk-gradient path probes every chunk as well
            NDArray recorded = step.create(logits, new Shape(B, T, V));
            recorded.setRequiresGradient(true);
            AtomicInteger training = new AtomicInteger();
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                LossInput trainingInput = input(step, recorded, gc);
                Chunks.probed(training::incrementAndGet, () -> Chunks.sum(recorded, 2, trainingInput, body));
            }
            assertEquals(3, training.get());
        }
    }

    @Test
    void countIsTheRoundedSumOfTheMask() {
        try (NDManager step = manager.newSubManager()) {
            assertEquals(7, Chunks.count(step.create(mask, new Shape(B, T))));
            assertEquals(3, Chunks.count(step.create(new int[] {1, 0, 1, 1})), "an integer mask");
            assertEquals(2, Chunks.count(step.create(new float[] {0.6f, 0.6f, 0.3f})), "rounded: 1.5 -> 2");
            assertEquals(0, Chunks.count(step.zeros(new Shape(2, 3))));
        }
    }

    @Test
    void aChunkSizeBelowOneIsRefused() {
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.create(logits, new Shape(B, T, V));
            for (int bad : new int[] {0, -3}) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> Chunks.sum(z, bad, input(step, z, null), (c, p, l) -> l.sum()));
                assertTrue(e.getMessage().contains(String.valueOf(bad)), e.getMessage());
            }
        }
    }

    @Test
    void anEmptySequenceSumsToZero() {
        try (NDManager step = manager.newSubManager()) {
            NDArray z = step.zeros(new Shape(B, 0, V));
            AtomicInteger calls = new AtomicInteger();
            NDArray sum = Chunks.sum(z, 4, input(step, z, null), (c, p, l) -> {
                calls.incrementAndGet();
                return l.sum();
            });
            assertEquals(0f, sum.getFloat(), 0f);
            assertEquals(DataType.FLOAT32, sum.getDataType());
            assertEquals(0, calls.get());
        }
    }
}
