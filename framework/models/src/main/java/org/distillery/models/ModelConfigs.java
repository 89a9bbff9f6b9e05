package org.distillery.models;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.ModelConfig;
import org.distillery.models.arch.ArchConfig;
import org.distillery.models.io.Json;
import org.distillery.models.llava.LlavaConfig;

/**
 * Builds {@link ModelConfig} records from {@code config.json} maps and back: the text
 * architectures of {@link ArchConfig} and LLaVA ({@link LlavaConfig}), whose record carries its
 * language model's sizes.
 */
public final class ModelConfigs {

    /** The {@code model_type} values this module implements. */
    public static final List<String> SUPPORTED = java.util.stream.Stream.concat(ArchConfig.SUPPORTED.stream(),
            java.util.stream.Stream.of(LlavaConfig.MODEL_TYPE)).toList();

    private ModelConfigs() {
    }

    /**
     * Builds a validated config from {@code config.json} fields; missing optional fields take the
     * Hugging Face defaults of the architecture.
     *
     * @throws IllegalArgumentException naming the field that is missing or invalid
     */
    public static ModelConfig fromMap(Map<String, Object> raw) {
        if (LlavaConfig.isLlava(raw)) {
            return LlavaConfig.parse(raw).toModelConfig(new LinkedHashMap<>(raw));
        }
        ArchConfig a = ArchConfig.parse(raw);
        return a.toModelConfig(new LinkedHashMap<>(raw));
    }

    /** Reads and validates {@code config.json} of {@code dir}. */
    public static ModelConfig read(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        Map<String, Object> raw = Json.readMap(file);
        try {
            return fromMap(raw);
        } catch (IllegalArgumentException e) {
            throw new InvalidFileException(file, e.getMessage(), e);
        }
    }

    /**
     * The {@code config.json} content of {@code config}: its raw map with the record fields written
     * back under the architecture's own key names (the record wins over stale raw values).
     */
    public static Map<String, Object> toMap(ModelConfig config) {
        return isLlava(config) ? LlavaConfig.mergeRecord(config) : ArchConfig.mergeRecord(config);
    }

    /**
     * The configuration of a model made of the decoder layers {@code layers} of {@code config} (strictly
     * increasing indices), each kept layer computing exactly as before: the layer count changes, a
     * sliding-window pattern that depends on layer indices becomes an explicit {@code layer_types} list,
     * and Qwen2-MoE's sparse layers an explicit {@code mlp_only_layers} list with
     * {@code decoder_sparse_step = 1}. GPT-2 with {@code scale_attn_by_inverse_layer_idx} scales attention
     * by the layer index, so only its first layers can be kept.
     *
     * @throws IllegalArgumentException naming what cannot be kept
     */
    public static ModelConfig withLayers(ModelConfig config, List<Integer> layers) {
        ArchConfig a = arch(config);
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("at least one of the " + a.numLayers + " layers must be kept");
        }
        for (int i = 0; i < layers.size(); i++) {
            int l = layers.get(i);
            if (l < 0 || l >= a.numLayers) {
                throw new IllegalArgumentException("layer " + l + " does not exist (the model has layers 0.."
                        + (a.numLayers - 1) + ")");
            }
            if (i > 0 && l <= layers.get(i - 1)) {
                throw new IllegalArgumentException("layers to keep must be strictly increasing (got " + layers + ")");
            }
        }
        Map<String, Object> raw = toMap(config);
        int k = layers.size();
        if (a.isGpt2()) {
            for (int i = 0; i < k; i++) {
                if (a.scaleAttnByInverseLayerIdx && layers.get(i) != i) {
                    throw new IllegalArgumentException("scale_attn_by_inverse_layer_idx scales layer i's attention by "
                            + "1/(i + 1): layer " + layers.get(i) + " would compute differently as layer " + i);
                }
            }
            raw.put("n_layer", (long) k);
        } else {
            raw.put("num_hidden_layers", (long) k);
            boolean indexDependentWindows = a.modelType.startsWith("qwen2") || raw.get("layer_types") instanceof List;
            if (indexDependentWindows) {
                List<String> types = new ArrayList<>();
                for (int l : layers) {
                    types.add(a.slidingWindow[l] > 0 ? "sliding_attention" : "full_attention");
                }
                boolean any = types.contains("sliding_attention");
                if (any || raw.containsKey("layer_types")) {
                    raw.put("layer_types", types);
                }
            }
            if (a.modelType.equals("qwen2_moe")) {
                List<Long> dense = new ArrayList<>();
                for (int i = 0; i < k; i++) {
                    if (!a.sparseLayer[layers.get(i)]) {
                        dense.add((long) i);
                    }
                }
                raw.put("mlp_only_layers", dense);
                raw.put("decoder_sparse_step", 1L);
            }
        }
        ModelConfig out = fromMap(raw);
        ArchConfig b = ArchConfig.parse(toMap(out));
        for (int i = 0; i < k; i++) {
            int l = layers.get(i);
            if (b.slidingWindow[i] != a.slidingWindow[l] || b.sparseLayer[i] != a.sparseLayer[l]) {
                throw new IllegalArgumentException("layer " + l + " cannot be kept as layer " + i
                        + ": its sliding window or sparse MoE setting would change");
            }
        }
        return out;
    }

    /** Whether {@code config} is a LLaVA model's. */
    public static boolean isLlava(ModelConfig config) {
        return LlavaConfig.MODEL_TYPE.equals(config.modelType());
    }

    /** The parsed architecture of {@code config}: a text model's, or a LLaVA model's language model. */
    public static ArchConfig arch(ModelConfig config) {
        return isLlava(config) ? LlavaConfig.parse(toMap(config)).text : ArchConfig.parse(toMap(config));
    }
}
