package org.distillery.models.arch;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.api.model.ModelConfig;

/**
 * Every architecture field a forward pass needs, parsed from {@code config.json} with the
 * Hugging Face defaults of each {@code model_type}.
 */
public final class ArchConfig {

    /** Supported {@code model_type} values. */
    public static final List<String> SUPPORTED = List.of("gpt2", "llama", "qwen2", "mistral", "mixtral", "qwen2_moe");

    /** {@code model_type}. */
    public final String modelType;
    /** Vocabulary size. */
    public final int vocabSize;
    /** Residual width. */
    public final int hiddenSize;
    /** Decoder layers. */
    public final int numLayers;
    /** Attention heads. */
    public final int numHeads;
    /** Key/value heads. */
    public final int numKvHeads;
    /** Width of one head. */
    public final int headDim;
    /** Dense feed-forward width. */
    public final int intermediateSize;
    /** Maximum positions. */
    public final int maxPositions;
    /** Norm epsilon. */
    public final double normEps;
    /** Whether the output head shares the input embedding. */
    public final boolean tieEmbeddings;
    /** Std of the normal initialisation. */
    public final double initializerRange;
    /** Activation of the feed-forward layer. */
    public final String activation;
    /** Bias on q/k/v projections. */
    public final boolean qkvBias;
    /** Bias on the attention output projection. */
    public final boolean outBias;
    /** Bias on the feed-forward projections (Llama {@code mlp_bias}). */
    public final boolean mlpBias;
    /** Dropout on attention probabilities (training only). */
    public final double attnDropout;
    /** Dropout on residual branches (GPT-2, training only). */
    public final double residDropout;
    /** Dropout on the embeddings (GPT-2, training only). */
    public final double embdDropout;
    /** GPT-2 {@code scale_attn_weights}. */
    public final boolean scaleAttnWeights;
    /** GPT-2 {@code scale_attn_by_inverse_layer_idx}. */
    public final boolean scaleAttnByInverseLayerIdx;
    /** RoPE base. */
    public final double ropeTheta;
    /** {@code rope_scaling} or {@code null}. */
    public final Map<String, Object> ropeScaling;
    /** Per-layer sliding window size, 0 for full attention. */
    public final int[] slidingWindow;
    /** Experts per MoE layer, 0 for dense models. */
    public final int numExperts;
    /** Experts per token. */
    public final int topK;
    /** Renormalise top-k probabilities. */
    public final boolean normTopK;
    /** Width of one expert. */
    public final int expertIntermediateSize;
    /** Width of the shared expert, 0 for none. */
    public final int sharedExpertIntermediateSize;
    /** Which layers are sparse MoE layers. */
    public final boolean[] sparseLayer;

    private ArchConfig(Map<String, Object> raw) {
        Fields f = new Fields(raw);
        modelType = f.str("model_type", null);
        if (modelType == null) {
            throw new IllegalArgumentException("missing model_type (supported: " + SUPPORTED + ")");
        }
        if (!SUPPORTED.contains(modelType)) {
            throw new IllegalArgumentException("unsupported model_type '" + modelType + "' (supported: " + SUPPORTED + ")");
        }
        boolean gpt2 = modelType.equals("gpt2");
        vocabSize = f.positive("vocab_size", gpt2 ? 50257 : 32000);
        if (gpt2) {
            hiddenSize = f.positive("n_embd", 768);
            numLayers = f.positive("n_layer", 12);
            numHeads = f.positive("n_head", 12);
            numKvHeads = numHeads;
            Integer inner = f.intOrNull("n_inner");
            intermediateSize = inner == null ? 4 * hiddenSize : inner;
            maxPositions = f.positive("n_positions", 1024);
            normEps = f.dbl("layer_norm_epsilon", 1e-5);
            tieEmbeddings = f.bool("tie_word_embeddings", true);
            activation = f.str("activation_function", "gelu_new");
            qkvBias = true;
            outBias = true;
            mlpBias = true;
            attnDropout = f.dbl("attn_pdrop", 0.1);
            residDropout = f.dbl("resid_pdrop", 0.1);
            embdDropout = f.dbl("embd_pdrop", 0.1);
            scaleAttnWeights = f.bool("scale_attn_weights", true);
            scaleAttnByInverseLayerIdx = f.bool("scale_attn_by_inverse_layer_idx", false);
            ropeTheta = 0;
            ropeScaling = null;
        } else {
            hiddenSize = f.positive("hidden_size", 4096);
            numLayers = f.positive("num_hidden_layers", 32);
            numHeads = f.positive("num_attention_heads", 32);
            Integer kv = f.intOrNull("num_key_value_heads");
            numKvHeads = kv == null ? (modelType.equals("mistral") || modelType.equals("mixtral") ? 8 : numHeads) : kv;
            int defaultInter = switch (modelType) {
                case "mistral", "mixtral" -> 14336;
                case "qwen2" -> 22016;
                case "qwen2_moe" -> 5632;
                default -> 11008;
            };
            intermediateSize = f.positive("intermediate_size", defaultInter);
            maxPositions = f.positive("max_position_embeddings", modelType.startsWith("mi") ? 32768 : 2048);
            normEps = f.dbl("rms_norm_eps", 1e-6);
            tieEmbeddings = f.bool("tie_word_embeddings", false);
            activation = f.str("hidden_act", "silu");
            boolean attentionBias = f.bool("attention_bias", false);
            qkvBias = modelType.startsWith("qwen2") || attentionBias;
            outBias = modelType.equals("llama") && attentionBias;
            mlpBias = modelType.equals("llama") && f.bool("mlp_bias", false);
            attnDropout = f.dbl("attention_dropout", 0.0);
            residDropout = 0;
            embdDropout = 0;
            scaleAttnWeights = true;
            scaleAttnByInverseLayerIdx = false;
            ropeTheta = f.dbl("rope_theta", modelType.equals("mixtral") || modelType.equals("qwen2_moe") ? 1e6 : 10000.0);
            Object rs = raw.get("rope_scaling");
            if (rs != null && !(rs instanceof Map)) {
                throw new IllegalArgumentException("rope_scaling must be an object or null (got " + rs + ")");
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> rsm = (Map<String, Object>) rs;
            ropeScaling = rsm;
            Rope.validate(rsm);
        }
        Integer hd = gpt2 ? null : f.intOrNull("head_dim");
        if (hd == null) {
            if (hiddenSize % numHeads != 0) {
                throw new IllegalArgumentException("hidden size " + hiddenSize + " is not divisible by the "
                        + numHeads + " attention heads");
            }
            headDim = hiddenSize / numHeads;
        } else {
            headDim = hd;
        }
        if (numKvHeads <= 0 || numHeads % numKvHeads != 0) {
            throw new IllegalArgumentException("num_attention_heads " + numHeads
                    + " is not a multiple of num_key_value_heads " + numKvHeads);
        }
        if (!gpt2 && headDim % 2 != 0) {
            throw new IllegalArgumentException("head dimension " + headDim + " must be even for rotary embeddings");
        }
        initializerRange = f.dbl("initializer_range", 0.02);

        slidingWindow = new int[numLayers];
        if (!gpt2) {
            boolean qwen = modelType.startsWith("qwen2");
            Integer sw = raw.containsKey("sliding_window") ? f.intOrNull("sliding_window")
                    : (qwen || modelType.equals("mistral") ? Integer.valueOf(4096) : null);
            boolean use = qwen ? f.bool("use_sliding_window", false) : sw != null;
            int maxWindowLayers = qwen ? f.intOr("max_window_layers", 28) : 0;
            Object layerTypes = raw.get("layer_types");
            for (int i = 0; i < numLayers; i++) {
                boolean sliding;
                if (layerTypes instanceof List<?> lt && lt.size() == numLayers) {
                    sliding = "sliding_attention".equals(String.valueOf(lt.get(i)));
                } else {
                    sliding = use && (!qwen || i >= maxWindowLayers);
                }
                if (sliding && sw != null && sw > 0) {
                    slidingWindow[i] = sw;
                }
            }
        }

        sparseLayer = new boolean[numLayers];
        if (modelType.equals("mixtral")) {
            numExperts = f.positive("num_local_experts", 8);
            topK = f.positive("num_experts_per_tok", 2);
            normTopK = true;
            expertIntermediateSize = intermediateSize;
            sharedExpertIntermediateSize = 0;
            java.util.Arrays.fill(sparseLayer, true);
        } else if (modelType.equals("qwen2_moe")) {
            numExperts = f.intOr("num_experts", 60);
            topK = f.positive("num_experts_per_tok", 4);
            normTopK = f.bool("norm_topk_prob", false);
            expertIntermediateSize = f.positive("moe_intermediate_size", 1408);
            sharedExpertIntermediateSize = f.intOr("shared_expert_intermediate_size", 5632);
            int step = f.positive("decoder_sparse_step", 1);
            List<Integer> only = f.intList("mlp_only_layers");
            for (int i = 0; i < numLayers; i++) {
                sparseLayer[i] = !only.contains(i) && numExperts > 0 && (i + 1) % step == 0;
            }
        } else {
            numExperts = 0;
            topK = 0;
            normTopK = false;
            expertIntermediateSize = 0;
            sharedExpertIntermediateSize = 0;
        }
        if (numExperts > 0 && topK > numExperts) {
            throw new IllegalArgumentException("num_experts_per_tok " + topK + " exceeds the " + numExperts + " experts");
        }
        Activations.check(activation);
    }

    /** Parses and validates {@code raw} config fields. */
    public static ArchConfig parse(Map<String, Object> raw) {
        return new ArchConfig(raw);
    }

    /** Whether this is a GPT-2 model. */
    public boolean isGpt2() {
        return modelType.equals("gpt2");
    }

    /** The record view, keeping {@code raw}. */
    public ModelConfig toModelConfig(Map<String, Object> raw) {
        int inter = numExperts > 0 ? expertIntermediateSize : intermediateSize;
        return new ModelConfig(modelType, vocabSize, hiddenSize, numLayers, numHeads, numKvHeads, inter,
                maxPositions, Collections.unmodifiableMap(raw));
    }

    /** The config.json map of {@code c}: raw fields overlaid with the record fields. */
    public static Map<String, Object> mergeRecord(ModelConfig c) {
        Map<String, Object> m = new LinkedHashMap<>(c.raw() == null ? Map.of() : c.raw());
        m.put("model_type", c.modelType());
        m.put("vocab_size", (long) c.vocabSize());
        if ("gpt2".equals(c.modelType())) {
            m.put("n_embd", (long) c.hiddenSize());
            m.put("n_layer", (long) c.numLayers());
            m.put("n_head", (long) c.numHeads());
            m.put("n_positions", (long) c.maxPositions());
            if (c.intermediateSize() != 4 * c.hiddenSize() || m.get("n_inner") != null) {
                m.put("n_inner", (long) c.intermediateSize());
            }
        } else {
            m.put("hidden_size", (long) c.hiddenSize());
            m.put("num_hidden_layers", (long) c.numLayers());
            m.put("num_attention_heads", (long) c.numHeads());
            m.put("num_key_value_heads", (long) c.numKeyValueHeads());
            m.put("max_position_embeddings", (long) c.maxPositions());
            if ("qwen2_moe".equals(c.modelType())) {
                m.put("moe_intermediate_size", (long) c.intermediateSize());
                m.putIfAbsent("intermediate_size", (long) c.intermediateSize());
            } else {
                m.put("intermediate_size", (long) c.intermediateSize());
            }
        }
        m.putIfAbsent("architectures", List.of(architectureClass(c.modelType())));
        return m;
    }

    /** The Hugging Face class name written in {@code architectures}. */
    public static String architectureClass(String modelType) {
        return switch (modelType) {
            case "gpt2" -> "GPT2LMHeadModel";
            case "llama" -> "LlamaForCausalLM";
            case "qwen2" -> "Qwen2ForCausalLM";
            case "mistral" -> "MistralForCausalLM";
            case "mixtral" -> "MixtralForCausalLM";
            case "qwen2_moe" -> "Qwen2MoeForCausalLM";
            default -> modelType;
        };
    }

    /** Typed access to config fields with clear errors. */
    private static final class Fields {
        private final Map<String, Object> raw;

        Fields(Map<String, Object> raw) {
            this.raw = raw;
        }

        String str(String key, String def) {
            Object v = raw.get(key);
            if (v == null) {
                return def;
            }
            if (!(v instanceof String s)) {
                throw new IllegalArgumentException(key + " must be a string (got " + v + ")");
            }
            return s;
        }

        Integer intOrNull(String key) {
            Object v = raw.get(key);
            if (v == null) {
                return null;
            }
            if (!(v instanceof Number n) || n.doubleValue() != Math.rint(n.doubleValue())
                    || Math.abs(n.doubleValue()) > Integer.MAX_VALUE) {
                throw new IllegalArgumentException(key + " must be an integer (got " + v + ")");
            }
            return n.intValue();
        }

        int intOr(String key, int def) {
            Integer v = intOrNull(key);
            return v == null ? def : v;
        }

        int positive(String key, int def) {
            int v = intOr(key, def);
            if (v <= 0) {
                throw new IllegalArgumentException(key + " must be positive (got " + v + ")");
            }
            return v;
        }

        double dbl(String key, double def) {
            Object v = raw.get(key);
            if (v == null) {
                return def;
            }
            if (!(v instanceof Number n)) {
                throw new IllegalArgumentException(key + " must be a number (got " + v + ")");
            }
            return n.doubleValue();
        }

        boolean bool(String key, boolean def) {
            Object v = raw.get(key);
            if (v == null) {
                return def;
            }
            if (!(v instanceof Boolean b)) {
                throw new IllegalArgumentException(key + " must be true or false (got " + v + ")");
            }
            return b;
        }

        List<Integer> intList(String key) {
            Object v = raw.get(key);
            List<Integer> out = new ArrayList<>();
            if (v == null) {
                return out;
            }
            if (!(v instanceof List<?> l)) {
                throw new IllegalArgumentException(key + " must be a list of integers (got " + v + ")");
            }
            for (Object o : l) {
                if (!(o instanceof Number n)) {
                    throw new IllegalArgumentException(key + " must be a list of integers (got " + v + ")");
                }
                out.add(n.intValue());
            }
            return out;
        }
    }
}
