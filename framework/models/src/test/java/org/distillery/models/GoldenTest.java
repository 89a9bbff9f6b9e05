package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.models.reference.ReferenceLM;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * Golden tests: the logits of a tiny fixed model (seeded init, so the same weights in every
 * process, with random biases and norm weights so that they count) on fixed ids, computed by the
 * engine in float32, against the independent
 * double-precision {@link ReferenceLM}. Tolerance: 2e-5 times max(1, largest |logit|)
 * (observed: about 3e-6 absolute). The reference's own output is pinned in
 * {@code golden/reference-logits.json} (see the README next to it).
 * The sequence of 20 tokens exceeds max_position_embeddings (16) of the Llama configs, so
 * dynamic NTK scaling and the sliding windows (4 for Qwen2's second layer, 5 for Mistral) are
 * exercised.
 */
class GoldenTest {

    static final HfModelService SVC = new HfModelService();
    static final List<String> ARCHS = TinyModels.ALL;
    static final double TOLERANCE = 2e-5;
    static Map<String, double[]> GOLDEN;
    static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
        GOLDEN = load();
    }

    /** The pinned reference logits of {@code golden/reference-logits.json}, by architecture. */
    static Map<String, double[]> load() {
        try (var in = GoldenTest.class.getResourceAsStream("/golden/reference-logits.json")) {
            Map<String, Object> m = org.distillery.models.io.Json.GSON.fromJson(
                    new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8),
                    new com.google.gson.reflect.TypeToken<Map<String, Object>>() { }.getType());
            Map<String, double[]> golden = new LinkedHashMap<>();
            m.forEach((k, val) -> {
                if (val instanceof List<?> l) {
                    golden.put(k, l.stream().mapToDouble(o -> ((Number) o).doubleValue()).toArray());
                }
            });
            return golden;
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    @AfterAll
    static void close() {
        base.close();
    }

    static final long[][] IDS = {
        {1, 7, 33, 2, 63, 18, 18, 40, 5, 9, 61, 22, 13, 0, 47, 31, 8, 56, 3, 11},
        {60, 4, 4, 4, 29, 51, 10, 12, 37, 44, 19, 2, 6, 25, 58, 35, 41, 16, 27, 50}};

    /** Parameters that must carry random values, so that they affect the compared logits. */
    static final Map<String, List<String>> EXPECTED_RANDOMISED = Map.of(
            "gpt2", List.of("transformer\\.h\\.0\\.attn\\.c_attn\\.bias", "transformer\\.h\\.0\\.mlp\\.c_fc\\.bias",
                    "transformer\\.h\\.0\\.ln_1\\.weight", "transformer\\.h\\.0\\.ln_1\\.bias",
                    "transformer\\.ln_f\\.weight"),
            "qwen2", List.of("model\\.layers\\.0\\.self_attn\\.q_proj\\.bias", "model\\.layers\\.0\\.self_attn\\.k_proj\\.bias",
                    "model\\.layers\\.0\\.self_attn\\.v_proj\\.bias", "model\\.layers\\.0\\.input_layernorm\\.weight",
                    "model\\.norm\\.weight"),
            "llama", List.of("model\\.layers\\.1\\.post_attention_layernorm\\.weight", "model\\.norm\\.weight"));

    /**
     * The seeded init sets every bias to 0 and every norm weight to 1, which would leave them out of
     * the comparison (Qwen2's q/k/v biases, GPT-2's biases and layer norms): gives each such
     * parameter seeded random values (biases about 0.1, norm weights 1 +- 0.2). Returns their names.
     */
    static List<String> randomiseConstants(LanguageModel lm) {
        List<String> names = new java.util.ArrayList<>();
        for (Map.Entry<String, NDArray> e : new java.util.TreeMap<>(lm.parameters()).entrySet()) {
            float[] v = e.getValue().toFloatArray();
            boolean zeros = true;
            boolean ones = true;
            for (float x : v) {
                zeros &= x == 0f;
                ones &= x == 1f;
            }
            if (!zeros && !ones) {
                continue;
            }
            java.util.SplittableRandom rng = new java.util.SplittableRandom(2024L * 31 + e.getKey().hashCode());
            for (int i = 0; i < v.length; i++) {
                v[i] = (float) (ones ? 1 + 0.2 * rng.nextGaussian() : 0.1 * rng.nextGaussian());
            }
            e.getValue().set(v);
            names.add(e.getKey());
        }
        return names;
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void logitsMatchIndependentReference(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 2024, m)) {
            List<String> randomised = randomiseConstants(lm);
            for (String expected : EXPECTED_RANDOMISED.getOrDefault(arch, List.of())) {
                assertTrue(randomised.stream().anyMatch(n -> n.matches(expected)), arch + ": " + expected
                        + " must be randomised, got " + randomised);
            }
            Map<String, double[]> weights = new LinkedHashMap<>();
            for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                float[] f = e.getValue().toFloatArray();
                double[] dd = new double[f.length];
                for (int i = 0; i < f.length; i++) {
                    dd[i] = f[i];
                }
                weights.put(e.getKey(), dd);
            }
            ReferenceLM ref = new ReferenceLM(TinyModels.raw(arch), weights);
            float[] got = lm.forward(TestSupport.ids(m, IDS), ForwardOptions.inference()).logits().toFloatArray();
            int t = IDS[0].length;
            int v = lm.config().vocabSize();
            double worst = 0;
            double scale = 1;
            for (int b = 0; b < IDS.length; b++) {
                double[][] want = ref.forward(IDS[b]);
                for (int i = 0; i < t; i++) {
                    for (int j = 0; j < v; j++) {
                        scale = Math.max(scale, Math.abs(want[i][j]));
                        worst = Math.max(worst, Math.abs(want[i][j] - got[(b * t + i) * v + j]));
                    }
                }
            }
            // the reference itself is pinned by a file, so a change of init or reference is noticed
            double[] pinned = GOLDEN.get(arch);
            double[] last = ref.forward(IDS[0])[t - 1];
            if (Boolean.getBoolean("golden.print")) {
                System.out.println("GOLDEN \"" + arch + "\": " + java.util.Arrays.toString(
                        java.util.Arrays.copyOf(last, pinned.length)));
            }
            for (int j = 0; j < pinned.length; j++) {
                assertEquals(pinned[j], last[j], 1e-9, arch + " reference logit " + j + " moved");
                assertEquals(pinned[j], got[(t - 1) * v + j], TOLERANCE * scale, arch + " engine logit " + j);
            }
            assertTrue(worst <= TOLERANCE * scale, arch + ": max |engine - reference| = " + worst
                    + " (logit scale " + scale + ")");
        }
    }
}
