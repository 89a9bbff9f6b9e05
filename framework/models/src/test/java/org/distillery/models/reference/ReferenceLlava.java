package org.distillery.models.reference;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * An independent, deliberately naive double-precision LLaVA: a SigLIP or CLIP vision tower
 * (modeling_siglip.py, modeling_clip.py), the two-layer projector and the image-token merge of
 * modeling_llava.py, over {@link ReferenceLM} for the language model. Plain loops: the patch
 * embedding is a real strided convolution, attention is written out per head, GELU uses a
 * series for erf. It shares no code with the main sources.
 */
public final class ReferenceLlava {

    private final Map<String, Object> cfg;
    private final Map<String, Object> vcfg;
    private final Map<String, double[]> w;
    private final ReferenceLM text;

    /**
     * @param config the LLaVA config.json fields (with vision_config and text_config objects)
     * @param weights parameters by their current Hugging Face names (model.vision_tower.*,
     *     model.multi_modal_projector.*, model.language_model.*, lm_head.weight)
     */
    @SuppressWarnings("unchecked")
    public ReferenceLlava(Map<String, Object> config, Map<String, double[]> weights) {
        this.cfg = config;
        this.vcfg = (Map<String, Object>) config.get("vision_config");
        this.w = weights;
        Map<String, Object> tcfg = (Map<String, Object>) config.get("text_config");
        boolean gpt2 = "gpt2".equals(tcfg.get("model_type"));
        Map<String, double[]> tw = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, double[]> e : weights.entrySet()) {
            String n = e.getKey();
            if (n.startsWith("model.language_model.")) {
                tw.put((gpt2 ? "transformer." : "model.") + n.substring("model.language_model.".length()), e.getValue());
            } else if (n.equals("lm_head.weight")) {
                tw.put(n, e.getValue());
            }
        }
        this.text = new ReferenceLM(tcfg, tw);
    }

    private int vi(String key, int def) {
        Object v = vcfg.get(key);
        return v == null ? def : ((Number) v).intValue();
    }

    private double[] p(String name) {
        double[] a = w.get(name);
        if (a == null) {
            throw new IllegalArgumentException("reference: no weight " + name);
        }
        return a;
    }

    private boolean clip() {
        return "clip_vision_model".equals(vcfg.get("model_type"));
    }

    /** erf by its Maclaurin series (|x| < 5; ±1 beyond, within 2e-12). */
    static double erf(double x) {
        if (Math.abs(x) >= 5) {
            return Math.signum(x);
        }
        double sum = 0;
        double term = x;
        for (int n = 0; n < 200; n++) {
            double add = term / (2 * n + 1);
            sum += add;
            if (Math.abs(add) < 1e-18) {
                break;
            }
            term *= -x * x / (n + 1);
        }
        return 2 / Math.sqrt(Math.PI) * sum;
    }

    static double act(String name, double x) {
        return switch (name) {
            case "gelu" -> 0.5 * x * (1 + erf(x / Math.sqrt(2)));
            case "quick_gelu" -> x / (1 + Math.exp(-1.702 * x));
            case "gelu_pytorch_tanh", "gelu_new" -> ReferenceLM.geluNew(x);
            default -> throw new IllegalArgumentException("reference: activation " + name);
        };
    }

    /** The tower's hidden states [layer 0..L][position][hidden] of one image [channel][y][x]. */
    public List<double[][]> towerStates(double[][][] image) {
        int hs = vi("hidden_size", 768);
        int inter = vi("intermediate_size", 3072);
        int layers = vi("num_hidden_layers", 12);
        int heads = vi("num_attention_heads", 12);
        int size = vi("image_size", 224);
        int patch = vi("patch_size", 16);
        int channels = vi("num_channels", 3);
        double eps = vcfg.get("layer_norm_eps") == null ? (clip() ? 1e-5 : 1e-6)
                : ((Number) vcfg.get("layer_norm_eps")).doubleValue();
        String act = vcfg.get("hidden_act") == null ? (clip() ? "quick_gelu" : "gelu_pytorch_tanh")
                : (String) vcfg.get("hidden_act");
        String root = "model.vision_tower.vision_model.";
        int side = size / patch;
        int positions = side * side + (clip() ? 1 : 0);
        double[][] x = new double[positions][hs];
        double[] conv = p(root + "embeddings.patch_embedding.weight");
        double[] convBias = clip() ? null : p(root + "embeddings.patch_embedding.bias");
        int first = clip() ? 1 : 0;
        if (clip()) {
            x[0] = p(root + "embeddings.class_embedding").clone();
        }
        for (int py = 0; py < side; py++) {
            for (int px = 0; px < side; px++) {
                double[] out = x[first + py * side + px];
                for (int o = 0; o < hs; o++) {
                    double s = convBias == null ? 0 : convBias[o];
                    for (int c = 0; c < channels; c++) {
                        for (int ky = 0; ky < patch; ky++) {
                            for (int kx = 0; kx < patch; kx++) {
                                s += conv[((o * channels + c) * patch + ky) * patch + kx]
                                        * image[c][py * patch + ky][px * patch + kx];
                            }
                        }
                    }
                    out[o] = s;
                }
            }
        }
        double[] pos = p(root + "embeddings.position_embedding.weight");
        for (int a = 0; a < positions; a++) {
            for (int c = 0; c < hs; c++) {
                x[a][c] += pos[a * hs + c];
            }
        }
        if (clip()) {
            for (int a = 0; a < positions; a++) {
                x[a] = ReferenceLM.layerNorm(x[a], p(root + "pre_layrnorm.weight"), p(root + "pre_layrnorm.bias"), eps);
            }
        }
        List<double[][]> states = new ArrayList<>();
        states.add(copy(x));
        int dim = hs / heads;
        for (int l = 0; l < layers; l++) {
            String pre = root + "encoder.layers." + l + ".";
            double[][] q = new double[positions][];
            double[][] k = new double[positions][];
            double[][] v = new double[positions][];
            for (int a = 0; a < positions; a++) {
                double[] h = ReferenceLM.layerNorm(x[a], p(pre + "layer_norm1.weight"), p(pre + "layer_norm1.bias"), eps);
                q[a] = ReferenceLM.linear(h, p(pre + "self_attn.q_proj.weight"), p(pre + "self_attn.q_proj.bias"), hs, hs);
                k[a] = ReferenceLM.linear(h, p(pre + "self_attn.k_proj.weight"), p(pre + "self_attn.k_proj.bias"), hs, hs);
                v[a] = ReferenceLM.linear(h, p(pre + "self_attn.v_proj.weight"), p(pre + "self_attn.v_proj.bias"), hs, hs);
            }
            double[][] att = new double[positions][hs];
            for (int hd = 0; hd < heads; hd++) {
                for (int a = 0; a < positions; a++) {
                    double[] s = new double[positions];
                    for (int j = 0; j < positions; j++) {
                        double dot = 0;
                        for (int c = 0; c < dim; c++) {
                            dot += q[a][hd * dim + c] * k[j][hd * dim + c];
                        }
                        s[j] = dot / Math.sqrt(dim);
                    }
                    ReferenceLM.softmaxInPlace(s, positions);
                    for (int j = 0; j < positions; j++) {
                        for (int c = 0; c < dim; c++) {
                            att[a][hd * dim + c] += s[j] * v[j][hd * dim + c];
                        }
                    }
                }
            }
            for (int a = 0; a < positions; a++) {
                x[a] = ReferenceLM.add(x[a], ReferenceLM.linear(att[a], p(pre + "self_attn.out_proj.weight"),
                        p(pre + "self_attn.out_proj.bias"), hs, hs));
                double[] h = ReferenceLM.layerNorm(x[a], p(pre + "layer_norm2.weight"), p(pre + "layer_norm2.bias"), eps);
                double[] f = ReferenceLM.linear(h, p(pre + "mlp.fc1.weight"), p(pre + "mlp.fc1.bias"), hs, inter);
                for (int c = 0; c < inter; c++) {
                    f[c] = act(act, f[c]);
                }
                x[a] = ReferenceLM.add(x[a], ReferenceLM.linear(f, p(pre + "mlp.fc2.weight"), p(pre + "mlp.fc2.bias"),
                        inter, hs));
            }
            states.add(copy(x));
        }
        return states;
    }

    /** Projected features [token][text hidden] of one image. */
    public double[][] imageFeatures(double[][][] image) {
        List<double[][]> states = towerStates(image);
        Object fl = cfg.getOrDefault("vision_feature_layer", -2L);
        List<Integer> layers = new ArrayList<>();
        if (fl instanceof List<?> l) {
            l.forEach(o -> layers.add(((Number) o).intValue()));
        } else {
            layers.add(((Number) fl).intValue());
        }
        boolean dropFirst = "default".equals(cfg.getOrDefault("vision_feature_select_strategy", "default"));
        int hs = vi("hidden_size", 768);
        int positions = states.get(0).length;
        int from = dropFirst ? 1 : 0;
        int in = hs * layers.size();
        double[][] selected = new double[positions - from][in];
        for (int li = 0; li < layers.size(); li++) {
            int idx = layers.get(li) < 0 ? states.size() + layers.get(li) : layers.get(li);
            double[][] st = states.get(idx);
            for (int a = from; a < positions; a++) {
                System.arraycopy(st[a], 0, selected[a - from], li * hs, hs);
            }
        }
        String act = (String) cfg.getOrDefault("projector_hidden_act", "gelu");
        String pr = "model.multi_modal_projector.";
        int out = p(pr + "linear_1.bias").length;
        double[][] feats = new double[selected.length][];
        for (int a = 0; a < selected.length; a++) {
            double[] h = ReferenceLM.linear(selected[a], p(pr + "linear_1.weight"), p(pr + "linear_1.bias"), in, out);
            for (int c = 0; c < out; c++) {
                h[c] = act(act, h[c]);
            }
            feats[a] = ReferenceLM.linear(h, p(pr + "linear_2.weight"), p(pr + "linear_2.bias"), out, out);
        }
        return feats;
    }

    /**
     * Logits [seq][vocab] of one sequence whose image tokens (in order) take the features of
     * {@code image} ({@code null} for a text-only sequence).
     */
    public double[][] forward(long[] ids, double[][][] image) {
        int token = ((Number) cfg.getOrDefault("image_token_index", 32000L)).intValue();
        double[][] emb = new double[ids.length][];
        double[][] feats = image == null ? null : imageFeatures(image);
        int k = 0;
        for (int a = 0; a < ids.length; a++) {
            emb[a] = ids[a] == token ? feats[k++].clone() : text.embedding(ids[a]);
        }
        if (feats != null && k != feats.length) {
            throw new IllegalArgumentException("reference: " + k + " image tokens for " + feats.length + " features");
        }
        return text.forward(ids, emb);
    }

    private static double[][] copy(double[][] x) {
        double[][] c = new double[x.length][];
        for (int a = 0; a < x.length; a++) {
            c[a] = x[a].clone();
        }
        return c;
    }
}
