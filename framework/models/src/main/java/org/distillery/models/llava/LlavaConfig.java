package org.distillery.models.llava;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.api.model.ModelConfig;
import org.distillery.models.arch.Activations;
import org.distillery.models.arch.ArchConfig;
import org.distillery.models.vision.VisionConfig;

/**
 * The {@code config.json} of a {@code LlavaForConditionalGeneration} ({@code model_type = llava}):
 * a {@code vision_config} (SigLIP or CLIP tower), a {@code text_config} (any supported text
 * architecture, Llama by default), and how they meet:
 * <ul>
 *   <li>{@code vision_feature_layer} (default -2): the tower hidden state the features come from, an
 *       index into its hidden states (0 = the embeddings, negative from the end), or a list of them
 *       whose states are concatenated along the width;</li>
 *   <li>{@code vision_feature_select_strategy}: {@code default} drops position 0 (CLIP's class
 *       token; for SigLIP, which has none, a real patch, as Hugging Face and TinyLLaVA's
 *       {@code patch} do), {@code full} keeps every position; TinyLLaVA's {@code patch} and
 *       {@code cls_patch} are accepted as aliases of the two;</li>
 *   <li>{@code image_token_index} (or {@code image_token_id}; default 32000): the id repeated once
 *       per feature where an image goes;</li>
 *   <li>{@code projector_hidden_act} (default {@code gelu}) and {@code multimodal_projector_bias}
 *       (default true) of the two-layer projector.</li>
 * </ul>
 */
public final class LlavaConfig {

    /** The {@code model_type}. */
    public static final String MODEL_TYPE = "llava";
    /** The Hugging Face class written in {@code architectures}. */
    public static final String ARCHITECTURE = "LlavaForConditionalGeneration";

    /** The tower. */
    public final VisionConfig vision;
    /** The language model. */
    public final ArchConfig text;
    /** The language model's config as a record (its own {@code raw}). */
    public final ModelConfig textConfig;
    /** The image token's id. */
    public final int imageTokenId;
    /** Tower hidden-state indices (non-negative), concatenated in this order. */
    public final int[] featureLayers;
    /** Whether position 0 of the selected hidden states is dropped. */
    public final boolean dropFirst;
    /** The projector's activation. */
    public final String projectorActivation;
    /** Bias on the projector's linear layers. */
    public final boolean projectorBias;

    private LlavaConfig(Map<String, Object> raw) {
        Object vc = raw.get("vision_config");
        if (vc == null) {
            vision = VisionConfig.llavaDefault();
        } else if (vc instanceof Map<?, ?> vm) {
            vision = VisionConfig.parse(stringKeys(vm));
        } else {
            throw new IllegalArgumentException("vision_config must be an object (got " + vc + ")");
        }
        Object tc = raw.get("text_config");
        Map<String, Object> textRaw;
        if (tc == null) {
            textRaw = new LinkedHashMap<>();
        } else if (tc instanceof Map<?, ?> tm) {
            textRaw = stringKeys(tm);
        } else {
            throw new IllegalArgumentException("text_config must be an object (got " + tc + ")");
        }
        textRaw.putIfAbsent("model_type", "llama");
        try {
            text = ArchConfig.parse(textRaw);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("text_config: " + e.getMessage(), e);
        }
        textConfig = text.toModelConfig(textRaw);
        Object token = raw.containsKey("image_token_index") ? raw.get("image_token_index") : raw.get("image_token_id");
        imageTokenId = token == null ? 32000 : integer(token, "image_token_index");
        if (imageTokenId < 0 || imageTokenId >= text.vocabSize) {
            throw new IllegalArgumentException("image_token_index " + imageTokenId + " is outside the language model's "
                    + "vocabulary of " + text.vocabSize + " (text_config.vocab_size)");
        }
        Object layer = raw.getOrDefault("vision_feature_layer", -2L);
        List<Integer> layers = new ArrayList<>();
        if (layer instanceof List<?> l) {
            for (Object o : l) {
                layers.add(integer(o, "vision_feature_layer"));
            }
        } else {
            layers.add(integer(layer, "vision_feature_layer"));
        }
        if (layers.isEmpty()) {
            throw new IllegalArgumentException("vision_feature_layer must not be an empty list");
        }
        int states = vision.numLayers + 1;
        featureLayers = new int[layers.size()];
        for (int i = 0; i < layers.size(); i++) {
            int v = layers.get(i);
            int idx = v < 0 ? states + v : v;
            if (idx < 0 || idx >= states) {
                throw new IllegalArgumentException("vision_feature_layer " + v + " is outside the tower's " + states
                        + " hidden states (0 = embeddings .. " + vision.numLayers + ", or -1 .. -" + states + ")");
            }
            featureLayers[i] = idx;
        }
        Object strategy = raw.getOrDefault("vision_feature_select_strategy", "default");
        dropFirst = switch (String.valueOf(strategy)) {
            case "default", "patch" -> true;
            case "full", "cls_patch" -> false;
            default -> throw new IllegalArgumentException("vision_feature_select_strategy '" + strategy
                    + "' is not supported (accepted: default, full; TinyLLaVA's patch, cls_patch)");
        };
        Object act = raw.getOrDefault("projector_hidden_act", "gelu");
        if (!(act instanceof String a)) {
            throw new IllegalArgumentException("projector_hidden_act must be a string (got " + act + ")");
        }
        try {
            Activations.check(a);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("projector_hidden_act: " + e.getMessage(), e);
        }
        projectorActivation = a;
        Object bias = raw.getOrDefault("multimodal_projector_bias", Boolean.TRUE);
        if (!(bias instanceof Boolean b)) {
            throw new IllegalArgumentException("multimodal_projector_bias must be true or false (got " + bias + ")");
        }
        projectorBias = b;
    }

    /** Parses and validates a LLaVA {@code config.json}. */
    public static LlavaConfig parse(Map<String, Object> raw) {
        return new LlavaConfig(raw);
    }

    /** Whether {@code raw} is a LLaVA config. */
    public static boolean isLlava(Map<String, Object> raw) {
        return MODEL_TYPE.equals(raw.get("model_type"));
    }

    /** Features (and image tokens) per image. */
    public int tokensPerImage() {
        return vision.numPositions() - (dropFirst ? 1 : 0);
    }

    /** Width of the projector's input: the tower width times the number of feature layers. */
    public int projectorInput() {
        return vision.hiddenSize * featureLayers.length;
    }

    /** The highest tower hidden state the features need. */
    public int deepestFeatureLayer() {
        int m = 0;
        for (int l : featureLayers) {
            m = Math.max(m, l);
        }
        return m;
    }

    /**
     * The record view: the language model's sizes, {@code model_type = llava}, and the whole
     * LLaVA map as {@code raw}.
     */
    public ModelConfig toModelConfig(Map<String, Object> raw) {
        ModelConfig t = textConfig;
        return new ModelConfig(MODEL_TYPE, t.vocabSize(), t.hiddenSize(), t.numLayers(), t.numHeads(),
                t.numKeyValueHeads(), t.intermediateSize(), t.maxPositions(), Collections.unmodifiableMap(raw));
    }

    /**
     * The {@code config.json} map of a LLaVA record: its raw map with the record's sizes written into
     * {@code text_config} under the text architecture's own names.
     */
    public static Map<String, Object> mergeRecord(ModelConfig c) {
        Map<String, Object> m = new LinkedHashMap<>(c.raw() == null ? Map.of() : c.raw());
        Object tc = m.get("text_config");
        Map<String, Object> text = tc instanceof Map<?, ?> tm ? stringKeys(tm) : new LinkedHashMap<>();
        text.putIfAbsent("model_type", "llama");
        ModelConfig textRecord = new ModelConfig(String.valueOf(text.get("model_type")), c.vocabSize(), c.hiddenSize(),
                c.numLayers(), c.numHeads(), c.numKeyValueHeads(), c.intermediateSize(), c.maxPositions(), text);
        Map<String, Object> mergedText = ArchConfig.mergeRecord(textRecord);
        mergedText.remove("architectures");
        m.put("text_config", mergedText);
        m.put("model_type", MODEL_TYPE);
        m.putIfAbsent("architectures", List.of(ARCHITECTURE));
        return m;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> stringKeys(Map<?, ?> m) {
        Map<String, Object> out = new LinkedHashMap<>();
        for (Map.Entry<?, ?> e : m.entrySet()) {
            out.put(String.valueOf(e.getKey()), e.getValue());
        }
        return out;
    }

    private static int integer(Object v, String key) {
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
                || Math.abs(n.doubleValue()) > Integer.MAX_VALUE) {
            throw new IllegalArgumentException(key + " must be an integer (got " + v + ")");
        }
        return n.intValue();
    }
}
