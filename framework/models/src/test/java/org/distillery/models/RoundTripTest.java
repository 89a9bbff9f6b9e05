package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** Create, save, load: identical logits and parameters; f16/bf16; sharded; deterministic init. */
class RoundTripTest {

    static final HfModelService SVC = new HfModelService();
    static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    static final java.util.List<String> ARCHS = TinyModels.ALL;

    private static NDArray logits(LanguageModel lm, NDManager m) {
        NDArray ids = TestSupport.ids(m, new long[][] {{1, 5, 7, 9, 3, 4, 11}, {8, 8, 2, 60, 63, 0, 1}});
        return lm.forward(ids, ForwardOptions.inference()).logits();
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void saveLoadGivesIdenticalLogits(String arch, @TempDir Path dir) throws IOException {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 7, m)) {
            SVC.save(lm, dir, DataType.FLOAT32);
            assertTrue(Files.exists(dir.resolve("model.safetensors")));
            ModelConfig cfg = SVC.readConfig(dir);
            assertEquals(lm.config().modelType(), cfg.modelType());
            assertEquals(lm.config().hiddenSize(), cfg.hiddenSize());
            assertEquals(lm.config().intermediateSize(), cfg.intermediateSize());
            try (LanguageModel back = SVC.load(dir, DataType.FLOAT32, m)) {
                assertEquals(lm.parameters().keySet(), back.parameters().keySet());
                for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                    assertEquals(0f, TestSupport.maxAbsDiff(e.getValue(), back.parameters().get(e.getKey())), e.getKey());
                }
                assertEquals(0f, TestSupport.maxAbsDiff(logits(lm, m), logits(back, m)));
            }
            // leftover temp files must not exist
            try (var s = Files.list(dir)) {
                assertTrue(s.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")));
            }
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void halfPrecisionRoundTrip(String arch, @TempDir Path dir) throws IOException {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 3, m)) {
            NDArray ref = logits(lm, m);
            for (DataType t : new DataType[] {DataType.FLOAT16, DataType.BFLOAT16}) {
                Path d = dir.resolve(t.name());
                SVC.save(lm, d, t);
                assertEquals(HfModelService.torchName(t), SVC.readConfig(d).raw().get("torch_dtype"));
                try (LanguageModel back = SVC.load(d, DataType.FLOAT32, m)) {
                    for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                        NDArray rounded = t == DataType.FLOAT16
                                ? e.getValue().toType(t, false).toType(DataType.FLOAT32, false)
                                : bf16Round(e.getValue());
                        assertEquals(0f, TestSupport.maxAbsDiff(rounded, back.parameters().get(e.getKey())), e.getKey());
                    }
                    float diff = TestSupport.maxAbsDiff(ref, logits(back, m));
                    assertTrue(diff < (t == DataType.FLOAT16 ? 0.02f : 0.15f), t + " logits differ by " + diff);
                }
                // float16 compute works on CPU; the DJL PyTorch engine has no bfloat16 type at all
                if (t == DataType.FLOAT16) {
                    try (LanguageModel half = SVC.load(d, t, m)) {
                        assertEquals(t, half.parameters().values().iterator().next().getDataType());
                        NDArray l = logits(half, m);
                        assertEquals(DataType.FLOAT32, l.getDataType());
                        assertTrue(TestSupport.maxAbsDiff(ref, l) < 0.05f);
                    }
                } else {
                    IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, () -> SVC.load(d, t, m));
                    assertTrue(ex.getMessage().contains("bfloat16"), ex.getMessage());
                }
            }
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void shardedLoad(String arch, @TempDir Path dir) throws IOException {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 5, m)) {
            SVC.saveSharded(lm, dir, DataType.FLOAT32, 8 * 1024);
            assertTrue(Files.exists(dir.resolve(HfModelService.INDEX)));
            assertTrue(Files.exists(dir.resolve("model-00002-of-" + String.format("%05d", countShards(dir))
                    + ".safetensors")));
            try (LanguageModel back = SVC.load(dir, DataType.FLOAT32, m)) {
                assertEquals(0f, TestSupport.maxAbsDiff(logits(lm, m), logits(back, m)));
            }
        }
    }

    /** Independent bfloat16 rounding (round half to even on the upper 16 bits). */
    static NDArray bf16Round(NDArray a) {
        float[] f = a.toFloatArray();
        for (int i = 0; i < f.length; i++) {
            int bits = Float.floatToIntBits(f[i]);
            int upper = bits >>> 16;
            int lower = bits & 0xFFFF;
            if (lower > 0x8000 || (lower == 0x8000 && (upper & 1) == 1)) {
                upper++;
            }
            f[i] = Float.intBitsToFloat(upper << 16);
        }
        return a.getManager().create(f, a.getShape());
    }

    private static long countShards(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("model-")).count();
        }
    }

    @Test
    void initIsDeterministicPerSeed() {
        try (NDManager m = base.newSubManager();
             LanguageModel a = SVC.create(TinyModels.config("llama"), 42, m);
             LanguageModel b = SVC.create(TinyModels.config("llama"), 42, m);
             LanguageModel c = SVC.create(TinyModels.config("llama"), 43, m)) {
            NDArray wa = a.parameters().get("model.layers.0.self_attn.q_proj.weight");
            assertEquals(0f, TestSupport.maxAbsDiff(wa, b.parameters().get("model.layers.0.self_attn.q_proj.weight")));
            assertNotEquals(0f, TestSupport.maxAbsDiff(wa, c.parameters().get("model.layers.0.self_attn.q_proj.weight")));
            // first value fixed across processes and versions (java.util.SplittableRandom is specified)
            float std = (float) Math.sqrt(wa.square().mean().getFloat());
            assertEquals(0.2f, std, 0.03f);
            // padding row of the embedding is zero, norms are one
            assertEquals(0f, a.parameters().get("model.embed_tokens.weight").get(0).abs().sum().getFloat());
            assertEquals(32f, a.parameters().get("model.norm.weight").sum().getFloat());
        }
    }

    @Test
    void parameterNamesFollowHuggingFace() {
        try (NDManager m = base.newSubManager()) {
            try (LanguageModel g = SVC.create(TinyModels.config("gpt2"), 1, m)) {
                assertTrue(g.parameters().containsKey("transformer.h.1.attn.c_attn.weight"));
                assertEquals(new ai.djl.ndarray.types.Shape(32, 96),
                        g.parameters().get("transformer.h.1.attn.c_attn.weight").getShape());
                assertTrue(!g.parameters().containsKey("lm_head.weight"));
            }
            try (LanguageModel q = SVC.create(TinyModels.config("qwen2"), 1, m)) {
                assertTrue(q.parameters().containsKey("model.layers.0.self_attn.q_proj.bias"));
                assertTrue(!q.parameters().containsKey("model.layers.0.self_attn.o_proj.bias"));
                assertTrue(!q.parameters().containsKey("lm_head.weight"));
            }
            try (LanguageModel x = SVC.create(TinyModels.config("mixtral"), 1, m)) {
                assertTrue(x.parameters().containsKey("model.layers.1.block_sparse_moe.experts.3.w2.weight"));
                assertTrue(x.parameters().containsKey("lm_head.weight"));
            }
            try (LanguageModel x = SVC.create(TinyModels.config("qwen2_moe"), 1, m)) {
                assertTrue(x.parameters().containsKey("model.layers.0.mlp.shared_expert_gate.weight"));
                assertTrue(x.parameters().containsKey("model.layers.0.mlp.experts.3.down_proj.weight"));
                assertTrue(x.parameters().containsKey("model.layers.1.mlp.gate_proj.weight"));
            }
        }
    }

    @Test
    void gpt2LoadsBaseModelNamesAndIgnoresMaskBuffers(@TempDir Path dir) throws IOException {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("gpt2"), 9, m)) {
            SVC.save(lm, dir, DataType.FLOAT32);
            // rewrite as the original OpenAI-GPT-2 hub layout: no "transformer." prefix, attn.bias buffers
            java.util.Map<String, NDArray> renamed = new java.util.LinkedHashMap<>();
            lm.parameters().forEach((k, v) -> renamed.put(k.substring("transformer.".length()), v));
            renamed.put("h.0.attn.bias", m.ones(new ai.djl.ndarray.types.Shape(1, 1, 64, 64)));
            org.distillery.models.io.SafeTensors.write(dir.resolve("model.safetensors"), renamed, DataType.FLOAT32,
                    Map.of("format", "pt"));
            try (LanguageModel back = SVC.load(dir, DataType.FLOAT32, m)) {
                assertEquals(0f, TestSupport.maxAbsDiff(logits(lm, m), logits(back, m)));
            }
        }
    }
}
