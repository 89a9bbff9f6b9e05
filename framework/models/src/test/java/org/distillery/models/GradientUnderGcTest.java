package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.BiFunction;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.kit.loss.Scalars;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Gradients must not depend on when the garbage collector runs. DJL's {@code op(Number)} wraps
 * the number in an array over a Java buffer and frees it right after the op while autograd keeps
 * it; a GC between forward and backward then makes backward read freed memory (the models use
 * engine-owned scalars, {@link Scalars}). Index arrays made from Java data inside a forward pass's
 * scope are closed when the pass ends while the lookups that read them in backward live on: LLaVA's
 * merge of image features into the text embeddings and the MoE dispatch (they use engine-owned
 * indices, {@link org.distillery.kit.loss.EngineArrays}); both are checked here too.
 *
 * <p>Checked three ways: under a GC between forward and backward the gradients are finite,
 * non-zero and bitwise those of a run without one; in float64 they agree with central finite
 * differences on the largest entries of every parameter; and the same check catches the old
 * {@code op(Number)} path, whose gradient a GC corrupts.
 */
class GradientUnderGcTest {

    private static final long[] IDS = {1, 5, 9, 2, 7, 3, 11, 4};
    private static final double SCALE = 3.0;

    /** The test's loss on top of the model's logits; {@code scale} multiplies it. */
    private static NDArray loss(LanguageModel model, NDArray ids, BiFunction<NDArray, Double, NDArray> scale) {
        NDArray logits = model.forward(ids, options(model, ids.getManager())).logits();
        return scale.apply(logits.logSoftmax(-1).get(":, :, 0").sum().neg(), SCALE);
    }

    /** Inference options; a LLaVA model also gets the batch's two images. */
    private static ForwardOptions options(LanguageModel model, NDManager m) {
        return model.vision().isEmpty() ? ForwardOptions.inference()
                : ForwardOptions.inference().withPixelValues(LlavaGoldenTest.pixels(m, LlavaGoldenTest.images(2)));
    }

    /** The test's two rows: plain ids, or for a LLaVA model two rows that each hold an image's tokens. */
    private static NDArray input(LanguageModel model, NDManager m) {
        if (model.vision().isEmpty()) {
            return m.create(IDS, new Shape(2, 4));
        }
        int per = model.vision().orElseThrow().tokensPerImage();
        return TestSupport.ids(m, new long[][] {
            LlavaGoldenTest.withImage(new long[] {1}, per, new long[] {7, 33, 2, 18}),
            LlavaGoldenTest.withImage(new long[] {1, 4}, per, new long[] {29, 51, 10})});
    }

    /** The safe way to scale a differentiated array. */
    private static final BiFunction<NDArray, Double, NDArray> ENGINE_SCALAR = (x, s) -> x.mul(Scalars.of(x, s));
    /** The old way: DJL frees the scalar while autograd still needs it. */
    private static final BiFunction<NDArray, Double, NDArray> NUMBER_OVERLOAD = (x, s) -> x.mul(s.floatValue());

    private static Map<String, float[]> gradients(String arch, boolean collectBeforeBackward,
                                                  BiFunction<NDArray, Double, NDArray> scale) {
        Map<String, float[]> out = new TreeMap<>();
        try (NDManager base = NDManager.newBaseManager(); NDManager step = base.newSubManager()) {
            LanguageModel model = new HfModelService().create(TinyModels.config(arch), 3, base);
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            NDArray ids = input(model, step);
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray loss = loss(model, ids, scale);
                if (collectBeforeBackward) {
                    churnAndCollect();
                }
                gc.backward(loss);
            }
            model.parameters().forEach((k, v) -> out.put(k, v.getGradient().toFloatArray()));
            model.close();
        }
        REFILL.clear();
        return out;
    }

    /** Buffers holding the numbers written over freed native memory, alive until the gradient is read. */
    private static final List<ByteBuffer> REFILL = new ArrayList<>();

    /**
     * Frees what can be freed (arrays over Java buffers that were closed) and refills the freed
     * native memory with other numbers, kept alive until the gradient is read.
     */
    private static void churnAndCollect() {
        List<ByteBuffer> churn = new ArrayList<>();
        for (int i = 0; i < 4000; i++) {
            churn.add(ByteBuffer.allocateDirect(4).putFloat(0, 1e30f));
        }
        churn.clear();
        for (int round = 0; round < 3; round++) {
            System.gc();
            try {
                Thread.sleep(30); // the buffers' cleaners free their memory after the collection
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        REFILL.clear();
        for (int i = 0; i < 20000; i++) {
            REFILL.add(ByteBuffer.allocateDirect(4).putFloat(0, -7f));
        }
    }

    /**
     * Parameters that may have no gradient in these tiny configurations: experts no token was routed
     * to, and the vision tower's layers (and final norm) above the layer LLaVA takes its features from.
     */
    private static boolean mayBeUnused(String name) {
        return name.contains(".experts.") || name.contains("vision_tower") && !name.contains("embeddings")
                && !name.contains("layers.0.");
    }

    /** The first parameter whose gradient is not finite, not all zero, or not equal to the reference's; null if none. */
    private static String firstMismatch(Map<String, float[]> reference, Map<String, float[]> got) {
        for (String name : reference.keySet()) {
            float[] g = got.get(name);
            double norm = 0;
            for (float v : g) {
                if (!Float.isFinite(v)) {
                    return name + ": not finite";
                }
                norm += v * v;
            }
            if (norm == 0 && !mayBeUnused(name)) {
                return name + ": all zero";
            }
            if (!java.util.Arrays.equals(reference.get(name), g)) {
                return name + ": differs from the reference";
            }
        }
        return null;
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama", "mixtral", "qwen2_moe", "llava-siglip-llama", "llava-clip-gpt2"})
    void gradientsAreFiniteNonZeroAndTheSameWhenTheCollectorRunsBeforeBackward(String arch) {
        Map<String, float[]> quiet = gradients(arch, false, ENGINE_SCALAR);
        assertEquals(null, firstMismatch(quiet, quiet), "the reference itself is finite and non-zero");
        for (int trial = 0; trial < 5; trial++) {
            Map<String, float[]> collected = gradients(arch, true, ENGINE_SCALAR);
            assertEquals(null, firstMismatch(quiet, collected), arch + ", trial " + trial);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void gradientsUnderGcMatchFiniteDifferences(String arch) {
        try (NDManager base = NDManager.newBaseManager()) {
            LanguageModel model = new HfModelService().create(TinyModels.config(arch), 3, base);
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            NDArray ids = base.create(IDS, new Shape(2, 4));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray l = loss(model, ids, ENGINE_SCALAR);
                churnAndCollect();
                gc.backward(l);
            }
            Map<String, float[]> grads = new TreeMap<>();
            model.parameters().forEach((k, v) -> grads.put(k, v.getGradient().toFloatArray()));
            REFILL.clear();
            // central differences of the loss summed in double on the host, at each parameter's largest entry
            double h = 1e-2;
            int checked = 0;
            for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                NDArray p = e.getValue();
                float[] values = p.toFloatArray();
                float[] g = grads.get(e.getKey());
                int at = 0;
                for (int i = 1; i < g.length; i++) {
                    at = Math.abs(g[i]) > Math.abs(g[at]) ? i : at;
                }
                double plus = hostLoss(model, ids, p, values, at, h);
                double minus = hostLoss(model, ids, p, values, at, -h);
                p.set(values);
                double fd = (plus - minus) / (2 * h);
                assertTrue(g[at] != 0, arch + " " + e.getKey() + " has a gradient");
                assertEquals(fd, g[at], 2e-3 + 2e-2 * Math.abs(fd), arch + " " + e.getKey() + "[" + at + "]");
                checked++;
            }
            assertEquals(model.parameters().size(), checked);
            model.close();
        }
    }

    /** The test's loss with entry {@code at} of {@code p} moved by {@code delta}, from the logits, in double. */
    private static double hostLoss(LanguageModel model, NDArray ids, NDArray p, float[] values, int at, double delta) {
        float[] moved = values.clone();
        moved[at] = (float) (values[at] + delta);
        p.set(moved);
        try (NDManager scratch = ids.getManager().newSubManager()) {
            NDArray logits = model.forward(ids, ForwardOptions.inference()).logits();
            logits.attach(scratch);
            long v = logits.getShape().get(2);
            float[] z = logits.toFloatArray();
            double sum = 0;
            for (int row = 0; row < z.length / v; row++) {
                double max = Double.NEGATIVE_INFINITY;
                for (int j = 0; j < v; j++) {
                    max = Math.max(max, z[(int) (row * v + j)]);
                }
                double lse = 0;
                for (int j = 0; j < v; j++) {
                    lse += Math.exp(z[(int) (row * v + j)] - max);
                }
                sum -= z[(int) (row * v)] - max - Math.log(lse);
            }
            return SCALE * sum;
        }
    }

    @Test
    void theCheckCatchesTheOldNumberOverload() {
        Map<String, float[]> quiet = gradients("gpt2", false, NUMBER_OVERLOAD);
        assertEquals(null, firstMismatch(quiet, gradients("gpt2", false, ENGINE_SCALAR)),
                "without a GC both paths give the same gradient");
        List<String> caught = new ArrayList<>();
        for (int trial = 0; trial < 5; trial++) {
            String mismatch = firstMismatch(quiet, gradients("gpt2", true, NUMBER_OVERLOAD));
            if (mismatch != null) {
                caught.add(mismatch);
            }
        }
        assertTrue(!caught.isEmpty(), "a GC before backward must corrupt the op(Number) gradient in some trial");
        System.out.println("op(Number) under GC: " + caught.size() + " of 5 trials corrupt, e.g. " + caught.get(0));
    }
}
