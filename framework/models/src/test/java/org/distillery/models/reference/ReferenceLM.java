package org.distillery.models.reference;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * An independent, deliberately naive double-precision implementation of the supported
 * architectures, written from the Hugging Face modelling code (modeling_gpt2.py,
 * modeling_llama.py, modeling_qwen2.py, modeling_mistral.py, modeling_mixtral.py,
 * modeling_qwen2_moe.py) without sharing any code with the main sources: plain loops over
 * {@code double} arrays, one sequence at a time, no padding, no cache. Golden tests compare the
 * engine implementation against it.
 */
public final class ReferenceLM {

    private final Map<String, Object> cfg;
    private final Map<String, double[]> w;
    private final String type;

    /**
     * @param config the config.json fields
     * @param weights parameters by Hugging Face name, row-major
     */
    public ReferenceLM(Map<String, Object> config, Map<String, double[]> weights) {
        this.cfg = config;
        this.w = weights;
        this.type = (String) config.get("model_type");
    }

    private int i(String key, int def) {
        Object v = cfg.get(key);
        return v == null ? def : ((Number) v).intValue();
    }

    private double d(String key, double def) {
        Object v = cfg.get(key);
        return v == null ? def : ((Number) v).doubleValue();
    }

    private boolean b(String key, boolean def) {
        Object v = cfg.get(key);
        return v == null ? def : (Boolean) v;
    }

    private double[] p(String name) {
        double[] a = w.get(name);
        if (a == null) {
            throw new IllegalArgumentException("reference: no weight " + name);
        }
        return a;
    }

    /** Logits [seq][vocab] of one unpadded sequence. */
    public double[][] forward(long[] ids) {
        return forward(ids, null);
    }

    /**
     * Logits [seq][vocab] of one unpadded sequence whose token embeddings are {@code embeddings}
     * [seq][hidden] instead of the looked-up ones (Hugging Face's {@code inputs_embeds}); GPT-2
     * still adds its position embeddings. {@code null} looks the ids up.
     */
    public double[][] forward(long[] ids, double[][] embeddings) {
        return type.equals("gpt2") ? gpt2(ids, embeddings) : llama(ids, embeddings);
    }

    /** The token embedding table's row of {@code id}. */
    public double[] embedding(long id) {
        int hs = type.equals("gpt2") ? i("n_embd", 768) : i("hidden_size", 4096);
        double[] table = p(type.equals("gpt2") ? "transformer.wte.weight" : "model.embed_tokens.weight");
        return Arrays.copyOfRange(table, (int) id * hs, (int) id * hs + hs);
    }

    // ------------------------------------------------------------------ building blocks

    /** y = x W + b with W stored [in][out] (GPT-2 Conv1D). */
    static double[] conv1d(double[] x, double[] wt, double[] bias, int in, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias == null ? 0 : bias[o];
            for (int k = 0; k < in; k++) {
                s += x[k] * wt[k * out + o];
            }
            y[o] = s;
        }
        return y;
    }

    /** y = W x + b with W stored [out][in] (torch Linear). */
    static double[] linear(double[] x, double[] wt, double[] bias, int in, int out) {
        double[] y = new double[out];
        for (int o = 0; o < out; o++) {
            double s = bias == null ? 0 : bias[o];
            for (int k = 0; k < in; k++) {
                s += wt[o * in + k] * x[k];
            }
            y[o] = s;
        }
        return y;
    }

    static double[] layerNorm(double[] x, double[] g, double[] bta, double eps) {
        int n = x.length;
        double mean = 0;
        for (double v : x) {
            mean += v;
        }
        mean /= n;
        double var = 0;
        for (double v : x) {
            var += (v - mean) * (v - mean);
        }
        var /= n;
        double[] y = new double[n];
        for (int k = 0; k < n; k++) {
            y[k] = (x[k] - mean) / Math.sqrt(var + eps) * g[k] + bta[k];
        }
        return y;
    }

    static double[] rmsNorm(double[] x, double[] g, double eps) {
        double ms = 0;
        for (double v : x) {
            ms += v * v;
        }
        ms /= x.length;
        double[] y = new double[x.length];
        for (int k = 0; k < x.length; k++) {
            y[k] = g[k] * (x[k] / Math.sqrt(ms + eps));
        }
        return y;
    }

    static double geluNew(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    static double silu(double x) {
        return x / (1 + Math.exp(-x));
    }

    static void softmaxInPlace(double[] s, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int k = 0; k < n; k++) {
            max = Math.max(max, s[k]);
        }
        double sum = 0;
        for (int k = 0; k < n; k++) {
            s[k] = Math.exp(s[k] - max);
            sum += s[k];
        }
        for (int k = 0; k < n; k++) {
            s[k] /= sum;
        }
    }

    static double[] add(double[] a, double[] b2) {
        double[] r = a.clone();
        for (int k = 0; k < r.length; k++) {
            r[k] += b2[k];
        }
        return r;
    }

    /**
     * Causal attention over per-position q [t][heads*d], k/v [t][kvHeads*d]; key j is visible to
     * query t if j <= t and (window == 0 or t - j < window).
     */
    static double[][] attend(double[][] q, double[][] k, double[][] v, int heads, int kvHeads, int dim,
                             double scale, int window) {
        int t = q.length;
        double[][] out = new double[t][heads * dim];
        int group = heads / kvHeads;
        for (int h = 0; h < heads; h++) {
            int kh = h / group;
            for (int a = 0; a < t; a++) {
                double[] s = new double[a + 1];
                boolean[] visible = new boolean[a + 1];
                for (int j = 0; j <= a; j++) {
                    visible[j] = window == 0 || a - j < window;
                    double dot = 0;
                    for (int c = 0; c < dim; c++) {
                        dot += q[a][h * dim + c] * k[j][kh * dim + c];
                    }
                    s[j] = visible[j] ? dot * scale : Double.NEGATIVE_INFINITY;
                }
                softmaxInPlace(s, a + 1);
                for (int j = 0; j <= a; j++) {
                    if (!visible[j]) {
                        continue;
                    }
                    for (int c = 0; c < dim; c++) {
                        out[a][h * dim + c] += s[j] * v[j][kh * dim + c];
                    }
                }
            }
        }
        return out;
    }

    // ------------------------------------------------------------------ GPT-2

    private double[][] gpt2(long[] ids, double[][] given) {
        int hs = i("n_embd", 768);
        int layers = i("n_layer", 12);
        int heads = i("n_head", 12);
        int inner = cfg.get("n_inner") == null ? 4 * hs : i("n_inner", 0);
        int vocab = i("vocab_size", 50257);
        double eps = d("layer_norm_epsilon", 1e-5);
        int dim = hs / heads;
        int t = ids.length;
        double[] wte = p("transformer.wte.weight");
        double[] wpe = p("transformer.wpe.weight");
        double[][] x = new double[t][hs];
        for (int a = 0; a < t; a++) {
            for (int c = 0; c < hs; c++) {
                x[a][c] = (given != null ? given[a][c] : wte[(int) ids[a] * hs + c]) + wpe[a * hs + c];
            }
        }
        for (int l = 0; l < layers; l++) {
            String pre = "transformer.h." + l + ".";
            double[][] q = new double[t][];
            double[][] k = new double[t][];
            double[][] v = new double[t][];
            for (int a = 0; a < t; a++) {
                double[] h = layerNorm(x[a], p(pre + "ln_1.weight"), p(pre + "ln_1.bias"), eps);
                double[] qkv = conv1d(h, p(pre + "attn.c_attn.weight"), p(pre + "attn.c_attn.bias"), hs, 3 * hs);
                q[a] = Arrays.copyOfRange(qkv, 0, hs);
                k[a] = Arrays.copyOfRange(qkv, hs, 2 * hs);
                v[a] = Arrays.copyOfRange(qkv, 2 * hs, 3 * hs);
            }
            double[][] att = attend(q, k, v, heads, heads, dim, 1 / Math.sqrt(dim), 0);
            for (int a = 0; a < t; a++) {
                x[a] = add(x[a], conv1d(att[a], p(pre + "attn.c_proj.weight"), p(pre + "attn.c_proj.bias"), hs, hs));
                double[] h = layerNorm(x[a], p(pre + "ln_2.weight"), p(pre + "ln_2.bias"), eps);
                double[] f = conv1d(h, p(pre + "mlp.c_fc.weight"), p(pre + "mlp.c_fc.bias"), hs, inner);
                for (int c = 0; c < inner; c++) {
                    f[c] = geluNew(f[c]);
                }
                x[a] = add(x[a], conv1d(f, p(pre + "mlp.c_proj.weight"), p(pre + "mlp.c_proj.bias"), inner, hs));
            }
        }
        double[][] logits = new double[t][];
        for (int a = 0; a < t; a++) {
            double[] h = layerNorm(x[a], p("transformer.ln_f.weight"), p("transformer.ln_f.bias"), eps);
            logits[a] = linear(h, wte, null, hs, vocab);
        }
        return logits;
    }

    // ------------------------------------------------------------------ Llama family and MoE

    /** Rotary inverse frequencies computed from the config, in double. */
    double[] inverseFrequencies(int dim, int seqLen) {
        double base = d("rope_theta", 10000);
        @SuppressWarnings("unchecked")
        Map<String, Object> rs = (Map<String, Object>) cfg.get("rope_scaling");
        String kind = rs == null ? "default" : String.valueOf(rs.getOrDefault("rope_type", rs.get("type")));
        double factor = rs == null ? 1 : ((Number) rs.get("factor")).doubleValue();
        if (kind.equals("dynamic")) {
            int maxPos = i("max_position_embeddings", 2048);
            if (seqLen > maxPos) {
                base *= Math.pow(factor * seqLen / maxPos - (factor - 1), dim / (dim - 2.0));
            }
        }
        double[] f = new double[dim / 2];
        for (int k = 0; k < f.length; k++) {
            f[k] = Math.pow(base, -2.0 * k / dim);
            if (kind.equals("linear")) {
                f[k] /= factor;
            } else if (kind.equals("llama3")) {
                double lo = ((Number) rs.get("low_freq_factor")).doubleValue();
                double hi = ((Number) rs.get("high_freq_factor")).doubleValue();
                double old = ((Number) rs.get("original_max_position_embeddings")).doubleValue();
                double wavelength = 2 * Math.PI / f[k];
                if (wavelength > old / lo) {
                    f[k] = f[k] / factor;
                } else if (wavelength >= old / hi) {
                    double smooth = (old / wavelength - lo) / (hi - lo);
                    f[k] = (1 - smooth) * f[k] / factor + smooth * f[k];
                }
            }
        }
        return f;
    }

    static void rotate(double[] vec, int heads, int dim, int pos, double[] inv) {
        int half = dim / 2;
        for (int h = 0; h < heads; h++) {
            for (int c = 0; c < half; c++) {
                double angle = pos * inv[c];
                double x1 = vec[h * dim + c];
                double x2 = vec[h * dim + c + half];
                vec[h * dim + c] = x1 * Math.cos(angle) - x2 * Math.sin(angle);
                vec[h * dim + c + half] = x2 * Math.cos(angle) + x1 * Math.sin(angle);
            }
        }
    }

    private double[] opt(String name) {
        return w.get(name);
    }

    private double[] swiglu(double[] h, String pre, String gate, String up, String down, int hs, int inter) {
        double[] g = linear(h, p(pre + gate + ".weight"), opt(pre + gate + ".bias"), hs, inter);
        double[] u = linear(h, p(pre + up + ".weight"), opt(pre + up + ".bias"), hs, inter);
        for (int c = 0; c < inter; c++) {
            g[c] = silu(g[c]) * u[c];
        }
        return linear(g, p(pre + down + ".weight"), opt(pre + down + ".bias"), inter, hs);
    }

    private double[][] llama(long[] ids, double[][] given) {
        int hs = i("hidden_size", 4096);
        int layers = i("num_hidden_layers", 32);
        int heads = i("num_attention_heads", 32);
        int kvHeads = i("num_key_value_heads", heads);
        int vocab = i("vocab_size", 32000);
        int dim = hs / heads;
        double eps = d("rms_norm_eps", 1e-6);
        int t = ids.length;
        boolean qwen = type.startsWith("qwen2");
        double[] emb = p("model.embed_tokens.weight");
        double[] inv = inverseFrequencies(dim, t);
        double[][] x = new double[t][];
        for (int a = 0; a < t; a++) {
            x[a] = given != null ? given[a].clone() : Arrays.copyOfRange(emb, (int) ids[a] * hs, (int) ids[a] * hs + hs);
        }
        for (int l = 0; l < layers; l++) {
            String pre = "model.layers." + l + ".";
            double[][] q = new double[t][];
            double[][] k = new double[t][];
            double[][] v = new double[t][];
            for (int a = 0; a < t; a++) {
                double[] h = rmsNorm(x[a], p(pre + "input_layernorm.weight"), eps);
                q[a] = linear(h, p(pre + "self_attn.q_proj.weight"), opt(pre + "self_attn.q_proj.bias"), hs, heads * dim);
                k[a] = linear(h, p(pre + "self_attn.k_proj.weight"), opt(pre + "self_attn.k_proj.bias"), hs,
                        kvHeads * dim);
                v[a] = linear(h, p(pre + "self_attn.v_proj.weight"), opt(pre + "self_attn.v_proj.bias"), hs,
                        kvHeads * dim);
                rotate(q[a], heads, dim, a, inv);
                rotate(k[a], kvHeads, dim, a, inv);
            }
            int window = 0;
            if (type.equals("mistral") && cfg.get("sliding_window") != null) {
                window = i("sliding_window", 0);
            } else if (qwen && b("use_sliding_window", false) && l >= i("max_window_layers", 28)) {
                window = i("sliding_window", 0);
            }
            double[][] att = attend(q, k, v, heads, kvHeads, dim, 1 / Math.sqrt(dim), window);
            for (int a = 0; a < t; a++) {
                x[a] = add(x[a], linear(att[a], p(pre + "self_attn.o_proj.weight"), opt(pre + "self_attn.o_proj.bias"),
                        heads * dim, hs));
                double[] h = rmsNorm(x[a], p(pre + "post_attention_layernorm.weight"), eps);
                x[a] = add(x[a], feedForward(l, pre, h, hs));
            }
        }
        double[] head = w.containsKey("lm_head.weight") ? p("lm_head.weight") : emb;
        double[][] logits = new double[t][];
        for (int a = 0; a < t; a++) {
            logits[a] = linear(rmsNorm(x[a], p("model.norm.weight"), eps), head, null, hs, vocab);
        }
        return logits;
    }

    private double[] feedForward(int layer, String pre, double[] h, int hs) {
        if (type.equals("mixtral")) {
            return moe(pre + "block_sparse_moe.", h, hs, i("num_local_experts", 8), i("num_experts_per_tok", 2),
                    i("intermediate_size", 14336), true, "w1", "w3", "w2");
        }
        if (type.equals("qwen2_moe")) {
            @SuppressWarnings("unchecked")
            List<Object> only = (List<Object>) cfg.getOrDefault("mlp_only_layers", List.of());
            boolean dense = false;
            for (Object o : only) {
                dense |= ((Number) o).intValue() == layer;
            }
            int step = i("decoder_sparse_step", 1);
            if (!dense && (layer + 1) % step == 0) {
                double[] y = moe(pre + "mlp.", h, hs, i("num_experts", 60), i("num_experts_per_tok", 4),
                        i("moe_intermediate_size", 1408), b("norm_topk_prob", false), "gate_proj", "up_proj", "down_proj");
                int shared = i("shared_expert_intermediate_size", 0);
                if (shared > 0) {
                    double[] s = swiglu(h, pre + "mlp.shared_expert.", "gate_proj", "up_proj", "down_proj", hs, shared);
                    double g = linear(h, p(pre + "mlp.shared_expert_gate.weight"), null, hs, 1)[0];
                    double sig = 1 / (1 + Math.exp(-g));
                    for (int c = 0; c < hs; c++) {
                        y[c] += sig * s[c];
                    }
                }
                return y;
            }
        }
        return swiglu(h, pre + "mlp.", "gate_proj", "up_proj", "down_proj", hs, i("intermediate_size", 11008));
    }

    private double[] moe(String pre, double[] h, int hs, int experts, int topK, int inter, boolean renorm,
                         String gate, String up, String down) {
        double[] probs = linear(h, p(pre + "gate.weight"), null, hs, experts);
        softmaxInPlace(probs, experts);
        boolean[] taken = new boolean[experts];
        int[] chosen = new int[topK];
        double total = 0;
        for (int r = 0; r < topK; r++) {
            int best = -1;
            for (int e = 0; e < experts; e++) {
                if (!taken[e] && (best < 0 || probs[e] > probs[best])) {
                    best = e;
                }
            }
            taken[best] = true;
            chosen[r] = best;
            total += probs[best];
        }
        double[] y = new double[hs];
        for (int e : chosen) {
            double weight = renorm ? probs[e] / total : probs[e];
            double[] o = swiglu(h, pre + "experts." + e + ".", gate, up, down, hs, inter);
            for (int c = 0; c < hs; c++) {
                y[c] += weight * o[c];
            }
        }
        return y;
    }
}
