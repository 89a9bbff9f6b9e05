package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.models.reference.ReferenceLlava;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * Golden tests of LLaVA: the logits and image features of tiny seeded models (a SigLIP tower with
 * the default strategy and layer -2 over Llama; a CLIP tower with the full strategy and layers
 * [-1, 0] over GPT-2), on fixed pixels and ids, against the independent double-precision
 * {@link ReferenceLlava}. Tolerance as {@link GoldenTest}: 2e-5 times max(1, largest |logit|).
 * Batches: two rows with one image each at different positions, and a row with an image next to
 * a text-only row. The reference's last logits are pinned in {@code golden/reference-logits.json}.
 */
class LlavaGoldenTest {

    static final List<String> ARCHS = TinyModels.LLAVA;
    static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    static double[][][][] images(int n) {
        SplittableRandom r = new SplittableRandom(7);
        double[][][][] img = new double[n][3][8][8];
        for (double[][][] i : img) {
            for (double[][] c : i) {
                for (double[] row : c) {
                    for (int x = 0; x < row.length; x++) {
                        row[x] = (float) (r.nextDouble() * 2 - 1);
                    }
                }
            }
        }
        return img;
    }

    static NDArray pixels(NDManager m, double[][][][] img) {
        int n = img.length;
        float[] flat = new float[n * 3 * 8 * 8];
        int k = 0;
        for (double[][][] i : img) {
            for (double[][] c : i) {
                for (double[] row : c) {
                    for (double v : row) {
                        flat[k++] = (float) v;
                    }
                }
            }
        }
        return m.create(flat, new Shape(n, 3, 8, 8));
    }

    /** {@code before}, the image token {@code count} times, then {@code after}. */
    static long[] withImage(long[] before, int count, long[] after) {
        long[] ids = new long[before.length + count + after.length];
        System.arraycopy(before, 0, ids, 0, before.length);
        for (int i = 0; i < count; i++) {
            ids[before.length + i] = TinyModels.IMAGE_TOKEN;
        }
        System.arraycopy(after, 0, ids, before.length + count, after.length);
        return ids;
    }

    static Map<String, double[]> weights(LanguageModel lm) {
        Map<String, double[]> weights = new LinkedHashMap<>();
        for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
            float[] f = e.getValue().toFloatArray();
            double[] dd = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                dd[i] = f[i];
            }
            weights.put(e.getKey(), dd);
        }
        return weights;
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void logitsAndFeaturesMatchIndependentReference(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = new HfModelService().create(TinyModels.config(arch), 2024, m)) {
            int per = lm.vision().orElseThrow().tokensPerImage();
            assertEquals(arch.contains("siglip") ? 3 : 5, per, "tokens per image");
            ReferenceLlava ref = new ReferenceLlava(TinyModels.llava(arch), weights(lm));
            double[][][][] img = images(2);
            long[][] ids = {
                withImage(new long[] {1}, per, new long[] {7, 33, 2, 63 - 1, 18, 40, 5, 9}),
                withImage(new long[] {60, 4, 4, 4, 29}, per, new long[] {51, 10, 12, 37})};
            ModelOutput out = lm.forward(TestSupport.ids(m, ids), ForwardOptions.inference().withPixelValues(pixels(m, img)));
            double worst = compare(out.logits(), ids, new double[][][][] {img[0], img[1]}, ref);
            assertEquals(new Shape(2, per, lm.config().hiddenSize()), out.imageFeatures().getShape());
            float[] feats = out.imageFeatures().toFloatArray();
            double featWorst = 0;
            for (int i = 0; i < 2; i++) {
                double[][] want = ref.imageFeatures(img[i]);
                for (int t = 0; t < per; t++) {
                    for (int c = 0; c < want[t].length; c++) {
                        featWorst = Math.max(featWorst, Math.abs(want[t][c]
                                - feats[(i * per + t) * want[t].length + c]));
                    }
                }
            }
            assertTrue(featWorst < 2e-5, arch + ": image features differ by " + featWorst);

            // the pinned reference: last position of row 0
            double[] pinned = GoldenTest.load().get(arch);
            double[] last = ref.forward(ids[0], img[0])[ids[0].length - 1];
            float[] got = out.logits().toFloatArray();
            int v = lm.config().vocabSize();
            for (int j = 0; j < pinned.length; j++) {
                assertEquals(pinned[j], last[j], 1e-9, arch + " reference logit " + j + " moved");
                assertEquals(pinned[j], got[(ids[0].length - 1) * v + j], 2e-5 * Math.max(1, worst), arch + " logit " + j);
            }
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void imageRowsAndTextRowsMixInOneBatch(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = new HfModelService().create(TinyModels.config(arch), 2024, m)) {
            int per = lm.vision().orElseThrow().tokensPerImage();
            ReferenceLlava ref = new ReferenceLlava(TinyModels.llava(arch), weights(lm));
            double[][][][] img = images(1);
            long[] text = new long[per + 6];
            for (int i = 0; i < text.length; i++) {
                text[i] = (i * 7 + 3) % 60;
            }
            long[][] ids = {withImage(new long[] {1, 5}, per, new long[] {9, 11, 13, 2}), text};
            ModelOutput out = lm.forward(TestSupport.ids(m, ids), ForwardOptions.inference().withPixelValues(pixels(m, img)));
            compare(out.logits(), ids, new double[][][][] {img[0], null}, ref);
        }
    }

    /** Compares every logit with the reference; returns the logit scale. */
    static double compare(NDArray logits, long[][] ids, double[][][][] images, ReferenceLlava ref) {
        float[] got = logits.toFloatArray();
        int t = ids[0].length;
        int v = (int) logits.getShape().get(2);
        double worst = 0;
        double scale = 1;
        for (int b = 0; b < ids.length; b++) {
            double[][] want = ref.forward(ids[b], images[b]);
            for (int i = 0; i < t; i++) {
                for (int j = 0; j < v; j++) {
                    scale = Math.max(scale, Math.abs(want[i][j]));
                    worst = Math.max(worst, Math.abs(want[i][j] - got[(b * t + i) * v + j]));
                }
            }
        }
        assertTrue(worst <= 2e-5 * scale, "max |engine - reference| = " + worst + " (logit scale " + scale + ")");
        return scale;
    }
}
