package org.distillery.moe.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;

/**
 * Where a sparse MoE model keeps its feed-forward knowledge, read from its Hugging Face
 * parameter names: Mixtral ({@code block_sparse_moe.gate}, experts {@code w1/w3/w2}) and
 * Qwen2-MoE ({@code mlp.gate}, experts and an optional sigmoid-gated shared expert with
 * {@code gate_proj/up_proj/down_proj}, plus dense {@code mlp} layers listed in
 * {@code mlp_only_layers}).
 *
 * @param modelType {@code mixtral} or {@code qwen2_moe}
 * @param layers one entry per decoder layer
 * @param numExperts experts per sparse layer
 * @param topK the model's experts per token
 * @param normTopK whether the model renormalises its top-k router probabilities
 */
record MoeLayout(String modelType, List<Layer> layers, int numExperts, int topK, boolean normTopK) {

    /** The model types this bundle reads. */
    static final List<String> SUPPORTED = List.of("mixtral", "qwen2_moe");

    /**
     * A SwiGLU feed-forward block: down(act(gate x) * up x).
     *
     * @param gate [inter, hidden] parameter name
     * @param up [inter, hidden] parameter name
     * @param down [hidden, inter] parameter name
     */
    record Ffn(String gate, String up, String down) {
    }

    /**
     * One decoder layer's feed-forward part.
     *
     * @param index the layer index
     * @param router [experts, hidden] router weight name, or {@code null} for a dense layer
     * @param experts the experts (empty for a dense layer)
     * @param shared the shared expert, or {@code null}
     * @param sharedGate [1, hidden] shared-expert gate name, or {@code null}
     * @param dense the dense block of a non-sparse layer, or {@code null}
     */
    record Layer(int index, String router, List<Ffn> experts, Ffn shared, String sharedGate, Ffn dense) {

        /** Whether this layer routes tokens to experts. */
        boolean sparse() {
            return router != null;
        }
    }

    /** Whether {@code config} is a MoE architecture this bundle reads. */
    static boolean supports(ModelConfig config) {
        return SUPPORTED.contains(config.modelType());
    }

    /** Reads the layout of {@code model}; fails when it is not a Mixtral or Qwen2-MoE model. */
    static MoeLayout of(LanguageModel model) {
        ModelConfig c = model.config();
        if (!supports(c)) {
            throw new IllegalArgumentException("model_type '" + c.modelType() + "' is not a sparse MoE model (accepted: "
                    + String.join(", ", SUPPORTED) + ")");
        }
        Map<String, ?> params = model.parameters();
        boolean mixtral = c.modelType().equals("mixtral");
        List<Layer> layers = new ArrayList<>();
        int experts = -1;
        for (int l = 0; l < c.numLayers(); l++) {
            String pre = "model.layers." + l + "." + (mixtral ? "block_sparse_moe." : "mlp.");
            String router = pre + "gate.weight";
            if (!params.containsKey(router)) {
                String d = "model.layers." + l + ".mlp.";
                layers.add(new Layer(l, null, List.of(), null, null,
                        new Ffn(d + "gate_proj.weight", d + "up_proj.weight", d + "down_proj.weight")));
                continue;
            }
            List<Ffn> list = new ArrayList<>();
            for (int e = 0; ; e++) {
                String x = pre + "experts." + e + ".";
                Ffn f = mixtral ? new Ffn(x + "w1.weight", x + "w3.weight", x + "w2.weight")
                        : new Ffn(x + "gate_proj.weight", x + "up_proj.weight", x + "down_proj.weight");
                if (!params.containsKey(f.gate())) {
                    break;
                }
                list.add(f);
            }
            if (experts >= 0 && experts != list.size()) {
                throw new IllegalArgumentException("layer " + l + " has " + list.size() + " experts, others " + experts);
            }
            experts = list.size();
            String s = pre + "shared_expert.";
            boolean shared = params.containsKey(s + "gate_proj.weight");
            layers.add(new Layer(l, router, Collections.unmodifiableList(list),
                    shared ? new Ffn(s + "gate_proj.weight", s + "up_proj.weight", s + "down_proj.weight") : null,
                    shared ? pre + "shared_expert_gate.weight" : null, null));
        }
        if (experts <= 0) {
            throw new IllegalArgumentException("the " + c.modelType() + " model has no sparse layer");
        }
        Map<String, Object> raw = c.raw();
        int topK = intOr(raw, "num_experts_per_tok", mixtral ? 2 : 4);
        boolean norm = mixtral || Boolean.TRUE.equals(raw.get("norm_topk_prob"));
        return new MoeLayout(c.modelType(), List.copyOf(layers), experts, topK, norm);
    }

    /** The sparse layers, in order; the model's router logits come in this order. */
    List<Layer> sparseLayers() {
        return layers.stream().filter(Layer::sparse).toList();
    }

    /** Names of every router weight, in layer order. */
    List<String> routerNames() {
        return sparseLayers().stream().map(Layer::router).toList();
    }

    private static int intOr(Map<String, Object> raw, String key, int def) {
        Object v = raw == null ? null : raw.get(key);
        return v instanceof Number n ? n.intValue() : def;
    }
}
