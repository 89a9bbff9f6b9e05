package org.distillery.models.arch;

import java.util.LinkedHashMap;
import java.util.Map;

import ai.djl.ndarray.types.Shape;

/** Hugging Face parameter names and shapes of each architecture, and how checkpoint names map to them. */
public final class Layout {

    private Layout() {
    }

    /** Trainable parameters in Hugging Face order, by canonical name (tied output heads excluded). */
    public static Map<String, Shape> shapes(ArchConfig a) {
        Map<String, Shape> m = new LinkedHashMap<>();
        long h = a.hiddenSize;
        long v = a.vocabSize;
        if (a.isGpt2()) {
            m.put("transformer.wte.weight", new Shape(v, h));
            m.put("transformer.wpe.weight", new Shape(a.maxPositions, h));
            for (int i = 0; i < a.numLayers; i++) {
                String p = "transformer.h." + i + ".";
                m.put(p + "ln_1.weight", new Shape(h));
                m.put(p + "ln_1.bias", new Shape(h));
                m.put(p + "attn.c_attn.weight", new Shape(h, 3 * h));
                m.put(p + "attn.c_attn.bias", new Shape(3 * h));
                m.put(p + "attn.c_proj.weight", new Shape(h, h));
                m.put(p + "attn.c_proj.bias", new Shape(h));
                m.put(p + "ln_2.weight", new Shape(h));
                m.put(p + "ln_2.bias", new Shape(h));
                m.put(p + "mlp.c_fc.weight", new Shape(h, a.intermediateSize));
                m.put(p + "mlp.c_fc.bias", new Shape(a.intermediateSize));
                m.put(p + "mlp.c_proj.weight", new Shape(a.intermediateSize, h));
                m.put(p + "mlp.c_proj.bias", new Shape(h));
            }
            m.put("transformer.ln_f.weight", new Shape(h));
            m.put("transformer.ln_f.bias", new Shape(h));
            if (!a.tieEmbeddings) {
                m.put("lm_head.weight", new Shape(v, h));
            }
            return m;
        }
        long qd = (long) a.numHeads * a.headDim;
        long kvd = (long) a.numKvHeads * a.headDim;
        m.put("model.embed_tokens.weight", new Shape(v, h));
        for (int i = 0; i < a.numLayers; i++) {
            String p = "model.layers." + i + ".";
            m.put(p + "input_layernorm.weight", new Shape(h));
            m.put(p + "self_attn.q_proj.weight", new Shape(qd, h));
            if (a.qkvBias) {
                m.put(p + "self_attn.q_proj.bias", new Shape(qd));
            }
            m.put(p + "self_attn.k_proj.weight", new Shape(kvd, h));
            if (a.qkvBias) {
                m.put(p + "self_attn.k_proj.bias", new Shape(kvd));
            }
            m.put(p + "self_attn.v_proj.weight", new Shape(kvd, h));
            if (a.qkvBias) {
                m.put(p + "self_attn.v_proj.bias", new Shape(kvd));
            }
            m.put(p + "self_attn.o_proj.weight", new Shape(h, qd));
            if (a.outBias) {
                m.put(p + "self_attn.o_proj.bias", new Shape(h));
            }
            m.put(p + "post_attention_layernorm.weight", new Shape(h));
            if (a.modelType.equals("mixtral")) {
                String q = p + "block_sparse_moe.";
                m.put(q + "gate.weight", new Shape(a.numExperts, h));
                for (int e = 0; e < a.numExperts; e++) {
                    String x = q + "experts." + e + ".";
                    m.put(x + "w1.weight", new Shape(a.expertIntermediateSize, h));
                    m.put(x + "w2.weight", new Shape(h, a.expertIntermediateSize));
                    m.put(x + "w3.weight", new Shape(a.expertIntermediateSize, h));
                }
            } else if (a.sparseLayer[i]) {
                String q = p + "mlp.";
                m.put(q + "gate.weight", new Shape(a.numExperts, h));
                for (int e = 0; e < a.numExperts; e++) {
                    mlp(m, q + "experts." + e + ".", h, a.expertIntermediateSize, false);
                }
                if (a.sharedExpertIntermediateSize > 0) {
                    mlp(m, q + "shared_expert.", h, a.sharedExpertIntermediateSize, false);
                    m.put(q + "shared_expert_gate.weight", new Shape(1, h));
                }
            } else {
                mlp(m, p + "mlp.", h, a.intermediateSize, a.mlpBias);
            }
        }
        m.put("model.norm.weight", new Shape(h));
        if (!a.tieEmbeddings) {
            m.put("lm_head.weight", new Shape(v, h));
        }
        return m;
    }

    private static void mlp(Map<String, Shape> m, String p, long h, long inter, boolean bias) {
        m.put(p + "gate_proj.weight", new Shape(inter, h));
        if (bias) {
            m.put(p + "gate_proj.bias", new Shape(inter));
        }
        m.put(p + "up_proj.weight", new Shape(inter, h));
        if (bias) {
            m.put(p + "up_proj.bias", new Shape(inter));
        }
        m.put(p + "down_proj.weight", new Shape(h, inter));
        if (bias) {
            m.put(p + "down_proj.bias", new Shape(h));
        }
    }

    /** The canonical name of a checkpoint tensor name (GPT-2 base-model names gain {@code transformer.}). */
    public static String canonical(ArchConfig a, String fileName) {
        if (fileName.startsWith("lm_head.")) {
            return fileName;
        }
        String prefix = a.isGpt2() ? "transformer." : "model.";
        return fileName.startsWith(prefix) ? fileName : prefix + fileName;
    }

    /**
     * Whether a checkpoint tensor that is not a parameter may be ignored: GPT-2's causal-mask
     * buffers, old rotary caches, and a tied output head saved anyway.
     */
    public static boolean tolerated(ArchConfig a, String canonicalName) {
        if (canonicalName.equals("lm_head.weight")) {
            return a.tieEmbeddings;
        }
        if (a.isGpt2()) {
            return canonicalName.endsWith(".attn.bias") || canonicalName.endsWith(".attn.masked_bias");
        }
        return canonicalName.endsWith("rotary_emb.inv_freq");
    }

    /** Standard deviation used by random init for {@code name}, or 0 for zeros, or -1 for ones. */
    public static double initStd(ArchConfig a, String name) {
        if (name.endsWith("norm.weight") || name.endsWith("layernorm.weight") || name.matches(".*ln_(1|2|f)\\.weight")) {
            return -1;
        }
        if (name.endsWith(".bias")) {
            return 0;
        }
        if (a.isGpt2() && name.endsWith("c_proj.weight")) {
            return a.initializerRange / Math.sqrt(2.0 * a.numLayers);
        }
        return a.initializerRange;
    }
}
