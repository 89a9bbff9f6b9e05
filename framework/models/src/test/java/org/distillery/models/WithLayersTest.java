package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import org.distillery.api.model.ModelConfig;
import org.distillery.models.arch.ArchConfig;
import org.junit.jupiter.api.Test;

/** The configuration of a subset of decoder layers keeps each kept layer's per-layer settings. */
class WithLayersTest {

    private static ModelConfig layers(String arch, int n, Map<String, Object> extra) {
        Map<String, Object> raw = TinyModels.raw(arch);
        raw.put(arch.equals("gpt2") ? "n_layer" : "num_hidden_layers", (long) n);
        raw.putAll(extra);
        return ModelConfigs.fromMap(raw);
    }

    private static ArchConfig arch(ModelConfig c) {
        return ModelConfigs.arch(c);
    }

    @Test
    void everyArchitectureKeepsItsLayersSettings() {
        for (String name : TinyModels.ALL) {
            ModelConfig full = layers(name, 4, Map.of());
            ModelConfig kept = ModelConfigs.withLayers(full, List.of(0, 2, 3));
            assertEquals(3, kept.numLayers(), name);
            ArchConfig a = arch(full);
            ArchConfig b = arch(kept);
            assertArrayEquals(new int[] {a.slidingWindow[0], a.slidingWindow[2], a.slidingWindow[3]}, b.slidingWindow, name);
            assertArrayEquals(new boolean[] {a.sparseLayer[0], a.sparseLayer[2], a.sparseLayer[3]}, b.sparseLayer, name);
            assertEquals(full.hiddenSize(), kept.hiddenSize(), name);
        }
    }

    @Test
    void indexDependentPatternsBecomeExplicit() {
        // qwen2: sliding from layer max_window_layers = 1 on
        ModelConfig qwen = ModelConfigs.withLayers(layers("qwen2", 4, Map.of()), List.of(0, 3));
        assertEquals(List.of("full_attention", "sliding_attention"), qwen.raw().get("layer_types"));
        // qwen2_moe: every second layer sparse (decoder_sparse_step 2), layer 1 forced dense too
        ModelConfig moe = layers("qwen2_moe", 4, Map.of("decoder_sparse_step", 2L, "mlp_only_layers", List.of(1L)));
        assertArrayEquals(new boolean[] {false, false, false, true}, arch(moe).sparseLayer);
        ModelConfig keptMoe = ModelConfigs.withLayers(moe, List.of(2, 3));
        assertEquals(List.of(0L), keptMoe.raw().get("mlp_only_layers"));
        assertEquals(1L, keptMoe.raw().get("decoder_sparse_step"));
        assertArrayEquals(new boolean[] {false, true}, arch(keptMoe).sparseLayer);
        // llama: nothing per layer to rewrite
        assertFalse(ModelConfigs.withLayers(layers("llama", 4, Map.of()), List.of(1, 2)).raw().containsKey("layer_types"));
    }

    @Test
    void refusesWhatCannotBeKept() {
        ModelConfig gpt2 = layers("gpt2", 3, Map.of("scale_attn_by_inverse_layer_idx", true));
        assertEquals(2, ModelConfigs.withLayers(gpt2, List.of(0, 1)).numLayers(), "a prefix keeps its indices");
        IllegalArgumentException scaled = assertThrows(IllegalArgumentException.class,
                () -> ModelConfigs.withLayers(gpt2, List.of(0, 2)));
        assertTrue(scaled.getMessage().contains("scale_attn_by_inverse_layer_idx"), scaled.getMessage());
        ModelConfig llama = layers("llama", 3, Map.of());
        for (List<Integer> bad : List.of(List.<Integer>of(), List.of(0, 3), List.of(2, 1), List.of(1, 1))) {
            assertThrows(IllegalArgumentException.class, () -> ModelConfigs.withLayers(llama, bad), bad.toString());
        }
    }
}
