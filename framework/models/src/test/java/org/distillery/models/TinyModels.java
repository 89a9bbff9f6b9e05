package org.distillery.models;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.api.model.ModelConfig;

/** Tiny configs of every supported architecture (and RoPE scaling variants) for tests. */
final class TinyModels {

    private TinyModels() {
    }

    /** Architecture names used by the parameterised tests. */
    static final List<String> ALL = List.of("gpt2", "llama", "llama-linear", "llama-dynamic", "llama3", "qwen2",
            "mistral", "mixtral", "qwen2_moe");

    static Map<String, Object> raw(String name) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("vocab_size", 64L);
        m.put("initializer_range", 0.2);
        m.put("eos_token_id", 2L);
        m.put("pad_token_id", 0L);
        switch (name) {
            case "gpt2" -> {
                m.put("model_type", "gpt2");
                m.put("n_embd", 32L);
                m.put("n_layer", 2L);
                m.put("n_head", 4L);
                m.put("n_positions", 64L);
                m.put("attn_pdrop", 0.0);
                m.put("resid_pdrop", 0.0);
                m.put("embd_pdrop", 0.0);
            }
            default -> {
                String type = switch (name) {
                    case "llama-linear", "llama-dynamic", "llama3" -> "llama";
                    default -> name;
                };
                m.put("model_type", type);
                m.put("hidden_size", 32L);
                m.put("num_hidden_layers", 2L);
                m.put("num_attention_heads", 4L);
                m.put("num_key_value_heads", 2L);
                m.put("intermediate_size", 48L);
                m.put("max_position_embeddings", 16L);
                m.put("rms_norm_eps", 1e-6);
                m.put("rope_theta", 10000.0);
                switch (name) {
                    case "llama-linear" -> m.put("rope_scaling", Map.of("type", "linear", "factor", 2.0));
                    case "llama-dynamic" -> m.put("rope_scaling", Map.of("rope_type", "dynamic", "factor", 2.0));
                    case "llama3" -> m.put("rope_scaling", Map.of("rope_type", "llama3", "factor", 8.0,
                            "low_freq_factor", 1.0, "high_freq_factor", 4.0, "original_max_position_embeddings", 8L));
                    case "qwen2" -> {
                        m.put("tie_word_embeddings", true);
                        m.put("use_sliding_window", true);
                        m.put("sliding_window", 4L);
                        m.put("max_window_layers", 1L);
                    }
                    case "mistral" -> {
                        m.put("num_key_value_heads", 1L);
                        m.put("sliding_window", 5L);
                    }
                    case "mixtral" -> {
                        m.put("num_local_experts", 4L);
                        m.put("num_experts_per_tok", 2L);
                        m.put("intermediate_size", 24L);
                    }
                    case "qwen2_moe" -> {
                        m.put("num_experts", 4L);
                        m.put("num_experts_per_tok", 2L);
                        m.put("moe_intermediate_size", 16L);
                        m.put("shared_expert_intermediate_size", 24L);
                        m.put("intermediate_size", 40L);
                        m.put("mlp_only_layers", List.of(1L));
                        m.put("norm_topk_prob", false);
                    }
                    default -> { }
                }
            }
        }
        return m;
    }

    static ModelConfig config(String name) {
        return ModelConfigs.fromMap(name.startsWith("llava") ? llava(name) : raw(name));
    }

    /** Tiny LLaVA configs: a SigLIP tower over Llama, and a CLIP tower over GPT-2. */
    static final List<String> LLAVA = List.of("llava-siglip-llama", "llava-clip-gpt2");

    /** The image token of the tiny LLaVA configs. */
    static final int IMAGE_TOKEN = 63;

    static Map<String, Object> llava(String name) {
        boolean siglip = name.equals("llava-siglip-llama");
        Map<String, Object> vision = new LinkedHashMap<>();
        vision.put("model_type", siglip ? "siglip_vision_model" : "clip_vision_model");
        vision.put("hidden_size", 16L);
        vision.put("intermediate_size", 24L);
        vision.put("num_hidden_layers", 2L);
        vision.put("num_attention_heads", siglip ? 2L : 4L);
        vision.put("image_size", 8L);
        vision.put("patch_size", 4L);
        vision.put("initializer_range", 0.2);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", "llava");
        m.put("vision_config", vision);
        m.put("text_config", raw(siglip ? "llama" : "gpt2"));
        m.put("image_token_index", (long) IMAGE_TOKEN);
        if (siglip) {
            // Hugging Face's defaults: the second-to-last layer, position 0 dropped (a real patch for SigLIP)
            m.put("vision_feature_layer", -2L);
            m.put("vision_feature_select_strategy", "default");
        } else {
            m.put("vision_feature_layer", List.of(-1L, 0L));
            m.put("vision_feature_select_strategy", "full");
        }
        return m;
    }
}
