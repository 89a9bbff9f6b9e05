package org.distillery.models.vision;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.models.arch.Activations;

/**
 * A vision tower's {@code vision_config}, parsed with the Hugging Face defaults of its
 * {@code model_type}:
 * <ul>
 *   <li>{@code siglip_vision_model}: patch convolution with bias, learned position embeddings, no
 *       class token, pre-LN encoder blocks, {@code gelu_pytorch_tanh}, {@code post_layernorm},
 *       layer-norm epsilon 1e-6;</li>
 *   <li>{@code clip_vision_model}: a class embedding in front of the patches, patch convolution
 *       without bias, {@code pre_layrnorm} (sic) on the embeddings, pre-LN blocks,
 *       {@code quick_gelu}, {@code post_layernorm}, epsilon 1e-5.</li>
 * </ul>
 * Without a {@code vision_config} a LLaVA config takes Hugging Face's default tower: CLIP ViT-L/14
 * at 336 pixels ({@link #llavaDefault()}).
 */
public final class VisionConfig {

    /** SigLIP's tower. */
    public static final String SIGLIP = "siglip_vision_model";
    /** CLIP's tower. */
    public static final String CLIP = "clip_vision_model";
    /** Supported tower types. */
    public static final List<String> SUPPORTED = List.of(SIGLIP, CLIP);

    /** {@code model_type}. */
    public final String modelType;
    /** Residual width. */
    public final int hiddenSize;
    /** MLP width. */
    public final int intermediateSize;
    /** Encoder layers. */
    public final int numLayers;
    /** Attention heads. */
    public final int numHeads;
    /** Input channels. */
    public final int numChannels;
    /** Square input size in pixels. */
    public final int imageSize;
    /** Square patch size in pixels. */
    public final int patchSize;
    /** MLP activation. */
    public final String activation;
    /** Layer-norm epsilon. */
    public final double normEps;
    /** Dropout on attention probabilities (training only). */
    public final double attentionDropout;
    /** Std of the normal random initialisation. */
    public final double initializerRange;
    /** Every field, as given (for writing the config back). */
    public final Map<String, Object> raw;

    private VisionConfig(Map<String, Object> given) {
        Map<String, Object> m = new LinkedHashMap<>(given);
        Object type = m.get("model_type");
        if (type == null) {
            throw new IllegalArgumentException("vision_config.model_type is missing (supported: " + SUPPORTED + ")");
        }
        if (!(type instanceof String t) || !SUPPORTED.contains(t)) {
            throw new IllegalArgumentException("vision_config.model_type '" + type + "' is not supported (supported: "
                    + SUPPORTED + ")");
        }
        modelType = t;
        boolean clip = isClip();
        hiddenSize = positive(m, "hidden_size", 768);
        intermediateSize = positive(m, "intermediate_size", 3072);
        numLayers = positive(m, "num_hidden_layers", 12);
        numHeads = positive(m, "num_attention_heads", 12);
        numChannels = positive(m, "num_channels", 3);
        imageSize = positive(m, "image_size", 224);
        patchSize = positive(m, "patch_size", clip ? 32 : 16);
        activation = string(m, "hidden_act", clip ? "quick_gelu" : "gelu_pytorch_tanh");
        normEps = number(m, "layer_norm_eps", clip ? 1e-5 : 1e-6);
        attentionDropout = number(m, "attention_dropout", 0.0);
        initializerRange = number(m, "initializer_range", 0.02);
        if (hiddenSize % numHeads != 0) {
            throw new IllegalArgumentException("vision_config.hidden_size " + hiddenSize
                    + " is not divisible by num_attention_heads " + numHeads);
        }
        if (imageSize % patchSize != 0) {
            throw new IllegalArgumentException("vision_config.image_size " + imageSize
                    + " is not a multiple of patch_size " + patchSize);
        }
        try {
            Activations.check(activation);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("vision_config.hidden_act: " + e.getMessage(), e);
        }
        this.raw = Collections.unmodifiableMap(m);
    }

    /** Parses and validates a {@code vision_config} object. */
    public static VisionConfig parse(Map<String, Object> visionConfig) {
        return new VisionConfig(visionConfig);
    }

    /** Hugging Face's {@code LlavaConfig} default tower: CLIP ViT-L/14, 336 pixels, 24 layers. */
    public static VisionConfig llavaDefault() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", CLIP);
        m.put("hidden_size", 1024L);
        m.put("intermediate_size", 4096L);
        m.put("num_hidden_layers", 24L);
        m.put("num_attention_heads", 16L);
        m.put("image_size", 336L);
        m.put("patch_size", 14L);
        m.put("projection_dim", 768L);
        return new VisionConfig(m);
    }

    /** Whether this is a CLIP tower (class token, pre-layernorm, no patch bias). */
    public boolean isClip() {
        return modelType.equals(CLIP);
    }

    /** Patches per image. */
    public int numPatches() {
        int side = imageSize / patchSize;
        return side * side;
    }

    /** Positions of the encoder's sequence: the patches, plus the class token for CLIP. */
    public int numPositions() {
        return numPatches() + (isClip() ? 1 : 0);
    }

    /** Width of one attention head. */
    public int headDim() {
        return hiddenSize / numHeads;
    }

    private static int positive(Map<String, Object> m, String key, int def) {
        Object v = m.get(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue()) || n.doubleValue() <= 0
                || n.doubleValue() > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("vision_config." + key + " must be a positive integer (got " + v + ")");
        }
        return n.intValue();
    }

    private static double number(Map<String, Object> m, String key, double def) {
        Object v = m.get(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof Number n)) {
            throw new IllegalArgumentException("vision_config." + key + " must be a number (got " + v + ")");
        }
        return n.doubleValue();
    }

    private static String string(Map<String, Object> m, String key, String def) {
        Object v = m.get(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof String s)) {
            throw new IllegalArgumentException("vision_config." + key + " must be a string (got " + v + ")");
        }
        return s;
    }
}
