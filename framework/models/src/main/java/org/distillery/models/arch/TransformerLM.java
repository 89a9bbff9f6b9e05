package org.distillery.models.arch;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.distillery.api.model.RoutingOverride;
import org.distillery.api.model.SlotKvCache;
import org.distillery.kit.loss.EngineArrays;
import org.distillery.kit.loss.Scalars;

/**
 * A decoder-only transformer over named Hugging Face parameters: GPT-2, the Llama family
 * (Llama, Qwen2, Mistral) and sparse MoE (Mixtral, Qwen2-MoE). The forward pass is plain
 * batched NDArray arithmetic, so a caller's gradient collector records it.
 */
public final class TransformerLM implements LanguageModel {

    private static final float MASK_BIAS = -1e9f;

    private final ModelConfig config;
    private final ArchConfig arch;
    private final DataType dtype;
    private final DataType weightType;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final Map<String, Object> generationConfig;
    private final OutputHead head;
    private volatile boolean closed;

    /**
     * Wraps loaded or initialised parameters; the model takes ownership of {@code manager}.
     *
     * @param dtype the compute type; parameters of another floating type are widened (or narrowed)
     *     to it one operation at a time, inside the forward pass, so they stay resident in their own
     *     type (float16 weights computing in float32 on a CPU, whose float16 matrix products are slow)
     * @param params canonical name to array, exactly {@link Layout#shapes} of the config
     */
    public TransformerLM(ModelConfig config, DataType dtype, NDManager manager, Map<String, NDArray> params,
                         Map<String, Object> generationConfig) {
        this.config = config;
        this.arch = ArchConfig.parse(ArchConfig.mergeRecord(config));
        this.dtype = dtype;
        this.weightType = params.isEmpty() ? dtype : params.values().iterator().next().getDataType();
        this.manager = manager;
        Map<String, Shape> shapes = Layout.shapes(arch);
        if (!shapes.keySet().equals(params.keySet())) {
            throw new IllegalArgumentException("parameters do not match the " + arch.modelType + " layout");
        }
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        for (String n : shapes.keySet()) {
            NDArray p = params.get(n);
            p.setName(n);
            ordered.put(n, p);
        }
        this.params = Collections.unmodifiableMap(ordered);
        String headWeight = arch.tieEmbeddings ? (arch.isGpt2() ? "transformer.wte.weight" : "model.embed_tokens.weight")
                : "lm_head.weight";
        this.head = OutputHead.of(ordered.get(headWeight));
        this.generationConfig = generationConfig == null ? Map.of()
                : Collections.unmodifiableMap(new LinkedHashMap<>(generationConfig));
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    /** The parsed architecture. */
    public ArchConfig arch() {
        return arch;
    }

    /** The compute data type. */
    public DataType dtype() {
        return dtype;
    }

    /** The type the parameters are held in (the compute type unless the loader chose otherwise). */
    public DataType weightType() {
        return weightType;
    }

    /** The manager that owns the parameters. */
    public NDManager manager() {
        return manager;
    }

    /** Fields of {@code generation_config.json}, empty if none. */
    public Map<String, Object> generationConfig() {
        return generationConfig;
    }

    /** Total number of parameters. */
    public long numParameters() {
        long n = 0;
        for (NDArray p : params.values()) {
            n += p.getShape().size();
        }
        return n;
    }

    @Override
    public Map<String, NDArray> parameters() {
        return params;
    }

    /**
     * The head over the input embedding (tied) or {@code lm_head.weight}; none of these architectures
     * has a head bias, logit scaling or soft-capping.
     */
    @Override
    public Optional<OutputHead> outputHead() {
        return Optional.of(head);
    }

    /** The name of the token embedding table. */
    private String embeddingName() {
        return arch.isGpt2() ? "transformer.wte.weight" : "model.embed_tokens.weight";
    }

    @Override
    public NDArray embedTokens(NDArray ids) {
        checkOpen();
        NDArray idx = ids.getDataType() == DataType.INT64 ? ids : ids.toType(DataType.INT64, false);
        NDArray out = Embedding.embedding(idx, p(embeddingName()), SparseFormat.DENSE).singletonOrThrow();
        // the lookup lands in the table's manager; the caller owns the result
        out.attach(ids.getManager());
        return out;
    }

    @Override
    public KvCache newCache() {
        checkOpen();
        return new KvCacheImpl(this, manager.newSubManager(), arch.numLayers);
    }

    @Override
    public SlotKvCache newSlotCache(int slots) {
        checkOpen();
        return new SlotKvCacheImpl(this, manager.newSubManager(), arch.numLayers, slots);
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            manager.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("model " + arch.modelType + " is closed");
        }
    }

    /** A parameter in the compute type: held weights of another type are converted for this use only. */
    private NDArray p(String name) {
        NDArray a = stored(name);
        return a.getDataType() == dtype ? a : a.toType(dtype, false);
    }

    /** A parameter as held. */
    private NDArray stored(String name) {
        NDArray a = params.get(name);
        if (a == null) {
            throw new IllegalStateException("missing parameter " + name);
        }
        return a;
    }

    private NDArray pOpt(String name) {
        return params.containsKey(name) ? p(name) : null;
    }

    @Override
    public ModelOutput forward(NDArray inputIds, ForwardOptions options) {
        checkOpen();
        ForwardOptions o = options == null ? ForwardOptions.inference() : options;
        Shape s = inputIds.getShape();
        if (s.dimension() != 2) {
            throw new IllegalArgumentException("input ids must be [batch, seq], got " + s);
        }
        long batch = s.get(0);
        long seq = s.get(1);
        if (seq == 0 || batch == 0) {
            throw new IllegalArgumentException("input ids must not be empty, got " + s);
        }
        if (o.pixelValues() != null) {
            throw new IllegalArgumentException("this " + arch.modelType + " model has no vision tower; it takes no "
                    + "images (a LLaVA model does)");
        }
        if (o.inputEmbeddings() != null) {
            Shape es = o.inputEmbeddings().getShape();
            if (!es.equals(new Shape(batch, seq, arch.hiddenSize))) {
                throw new IllegalArgumentException("input embeddings must be [" + batch + ", " + seq + ", "
                        + arch.hiddenSize + "], got " + es);
            }
        }
        KvCacheImpl cache = null;
        if (o.cache() != null) {
            if (!(o.cache() instanceof KvCacheImpl c) || c.owner != this) {
                throw new IllegalArgumentException("the KV cache was not created by this model");
            }
            if (c.isClosed()) {
                throw new IllegalArgumentException("the KV cache is closed");
            }
            if (c instanceof SlotKvCacheImpl && o.attentionMask() != null) {
                throw new IllegalArgumentException("a slot cache keeps its own attention mask; pass none");
            }
            c.beforeForward(batch, seq);
            if (c.length > 0 && c.batch != batch) {
                throw new IllegalArgumentException("the KV cache holds " + c.batch + " sequences, input has " + batch);
            }
            cache = c;
        }
        int past = cache == null ? 0 : cache.length;
        int longest = cache == null ? 0 : cache.longestSequence();
        if (o.positionIds() == null && !arch.isGpt2() && past + seq > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("sequence too long");
        }
        if (arch.isGpt2() && o.positionIds() == null && longest + seq > arch.maxPositions
                && o.attentionMask() == null) {
            throw new IllegalArgumentException("sequence of " + (longest + seq) + " tokens exceeds n_positions "
                    + arch.maxPositions);
        }
        NDManager out = inputIds.getManager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            Pass pass = new Pass(o, cache, batch, seq, past, out);
            NDArray ids = inputIds.getDataType() == DataType.INT64 ? inputIds : inputIds.toType(DataType.INT64, false);
            return pass.run(ids);
        }
    }

    /** State of one forward pass. Every array it creates is closed by the caller's scope unless kept. */
    private final class Pass {
        final ForwardOptions o;
        final KvCacheImpl cache;
        final long b;
        final long t;
        final int past;
        final long total;
        final NDManager out;
        final NDManager tmp;
        final boolean train;
        NDArray fullMask;
        NDArray positions;
        NDArray cos;
        NDArray sin;
        final Map<Integer, NDArray> biasByWindow = new HashMap<>();
        final NDArray[] newKeys;
        final NDArray[] newValues;
        final List<NDArray> hidden = new ArrayList<>();
        final List<NDArray> attentions = new ArrayList<>();
        final List<NDArray> routerLogits = new ArrayList<>();
        final List<NDArray> expertCounts = new ArrayList<>();

        Pass(ForwardOptions o, KvCacheImpl cache, long b, long t, int past, NDManager out) {
            this.o = o;
            this.cache = cache;
            this.b = b;
            this.t = t;
            this.past = past;
            this.total = past + t;
            this.out = out;
            this.tmp = out;
            this.train = o.training();
            this.newKeys = new NDArray[arch.numLayers];
            this.newValues = new NDArray[arch.numLayers];
        }

        ModelOutput run(NDArray ids) {
            prepareMask();
            preparePositions();
            NDArray x;
            NDArray tokens = castCompute(o.inputEmbeddings() != null ? o.inputEmbeddings()
                    : embed(ids, stored(embeddingName())));
            if (arch.isGpt2()) {
                NDArray pos = positions.clip(0, arch.maxPositions - 1);
                x = tokens.add(castCompute(embed(pos, stored("transformer.wpe.weight"))));
                x = dropout(x, arch.embdDropout);
            } else {
                prepareRope();
                x = tokens;
            }
            for (int l = 0; l < arch.numLayers; l++) {
                if (o.hiddenStates()) {
                    hidden.add(x);
                }
                x = arch.isGpt2() ? gpt2Layer(l, x) : llamaLayer(l, x);
            }
            x = arch.isGpt2() ? layerNorm(x, "transformer.ln_f.") : rmsNorm(x, p("model.norm.weight"));
            if (o.hiddenStates()) {
                hidden.add(x);
            }
            commitCache();
            if (o.headless()) {
                return new ModelOutput(null, keepAll(hidden), keepAll(attentions), keepAll(routerLogits),
                        keepAll(expertCounts), cache, keep(x), null);
            }
            NDArray logits = head.apply(x);
            return new ModelOutput(keep(logits), keepAll(hidden), keepAll(attentions), keepAll(routerLogits),
                    keepAll(expertCounts), cache);
        }

        NDArray keep(NDArray a) {
            NDScope.unregister(a);
            a.attach(out);
            return a;
        }

        List<NDArray> keepAll(List<NDArray> l) {
            List<NDArray> r = new ArrayList<>(l.size());
            for (NDArray a : l) {
                r.add(keep(a));
            }
            return Collections.unmodifiableList(r);
        }

        void commitCache() {
            if (cache == null) {
                return;
            }
            for (int l = 0; l < arch.numLayers; l++) {
                if (newKeys[l] != null) {
                    replace(cache.keys, l, newKeys[l]);
                    replace(cache.values, l, newValues[l]);
                }
            }
            // Always a fresh array: the cache must never take over an array the caller owns.
            NDArray m = fullMask != null ? fullMask.duplicate() : tmp.ones(new Shape(b, total), DataType.FLOAT32);
            NDScope.unregister(m);
            m.attach(cache.manager);
            if (cache.mask != null && cache.mask != m) {
                cache.mask.close();
            }
            cache.mask = m;
            cache.length = (int) total;
            cache.batch = b;
        }

        void replace(NDArray[] slots, int l, NDArray a) {
            NDScope.unregister(a);
            a.attach(cache.manager);
            if (slots[l] != null && slots[l] != a) {
                slots[l].close();
            }
            slots[l] = a;
        }

        void prepareMask() {
            NDArray m = o.attentionMask();
            if (m != null) {
                Shape ms = m.getShape();
                if (ms.dimension() != 2 || ms.get(0) != b) {
                    throw new IllegalArgumentException("attention mask must be [" + b + ", seq], got " + ms);
                }
                NDArray mf = m.getDataType() == DataType.FLOAT32 ? m : m.toType(DataType.FLOAT32, false);
                if (ms.get(1) == total) {
                    fullMask = mf;
                } else if (ms.get(1) == t) {
                    fullMask = past == 0 ? mf : pastMask().concat(mf, 1);
                } else {
                    throw new IllegalArgumentException("attention mask has " + ms.get(1) + " positions, expected "
                            + t + " (new tokens) or " + total + " (cached + new)");
                }
            } else if (cache != null && cache.mask != null && past > 0) {
                fullMask = cache.mask.concat(cache.newTokenMask(tmp, b, t), 1);
            }
        }

        NDArray pastMask() {
            return cache != null && cache.mask != null ? cache.mask : tmp.ones(new Shape(b, past), DataType.FLOAT32);
        }

        void preparePositions() {
            if (o.positionIds() != null) {
                NDArray pid = o.positionIds();
                if (!pid.getShape().equals(new Shape(b, t)) && !pid.getShape().equals(new Shape(1, t))) {
                    throw new IllegalArgumentException("position ids must be [" + b + ", " + t + "], got "
                            + pid.getShape());
                }
                positions = pid.getDataType() == DataType.INT64 ? pid : pid.toType(DataType.INT64, false);
            } else if (fullMask == null) {
                positions = tmp.arange(past, (int) total, 1, DataType.INT64).reshape(1, t);
            } else {
                NDArray cs = fullMask.cumSum(1).sub(1f);
                // padding positions get 1 (as Hugging Face does); where() does not broadcast a scalar here
                NDArray pos = cs.mul(fullMask).add(fullMask.neg().add(1f));
                if (past > 0) {
                    pos = pos.get(":, " + past + ":");
                }
                positions = pos.toType(DataType.INT64, false);
            }
        }

        void prepareRope() {
            long seqLen = Rope.isDynamic(arch) ? positions.max().toType(DataType.INT64, false).getLong() + 1 : 0;
            float[] inv = Rope.invFreq(arch, seqLen);
            NDArray invFreq = tmp.create(inv);
            NDArray freqs = positions.toType(DataType.FLOAT32, false).expandDims(-1).mul(invFreq);
            NDArray emb = freqs.concat(freqs, -1).expandDims(1);
            cos = castCompute(emb.cos());
            sin = castCompute(emb.sin());
        }

        /** Additive mask [b|1, 1, 1, t, total]: 0 where attending is allowed, a large negative number elsewhere. */
        NDArray bias(int window) {
            return biasByWindow.computeIfAbsent(window, w -> {
                NDArray q = tmp.arange(past, (int) total, 1, DataType.FLOAT32).reshape(t, 1);
                NDArray k = tmp.arange(0, (int) total, 1, DataType.FLOAT32).reshape(1, total);
                NDArray allowed = k.lte(q);
                if (w > 0) {
                    allowed = allowed.logicalAnd(q.sub(k).lt((float) w));
                }
                NDArray a = allowed.toType(DataType.FLOAT32, false);
                if (fullMask != null) {
                    a = a.expandDims(0).mul(fullMask.expandDims(1));
                } else {
                    a = a.expandDims(0);
                }
                return a.sub(1f).mul(-MASK_BIAS).reshape(a.getShape().get(0), 1, 1, t, total);
            });
        }

        NDArray castCompute(NDArray a) {
            return a.getDataType() == dtype ? a : a.toType(dtype, false);
        }

        NDArray embed(NDArray ids, NDArray table) {
            return Embedding.embedding(ids, table, SparseFormat.DENSE).singletonOrThrow();
        }

        NDArray dropout(NDArray x, double rate) {
            if (!train || rate <= 0) {
                return x;
            }
            return Dropout.dropout(x, (float) rate, true).singletonOrThrow();
        }

        NDArray linear(NDArray x, String prefix) {
            NDArray w = p(prefix + ".weight");
            NDArray bias = pOpt(prefix + ".bias");
            return (bias == null ? Linear.linear(x, w) : Linear.linear(x, w, bias)).singletonOrThrow();
        }

        NDArray rmsNorm(NDArray x, NDArray weight) {
            NDArray xf = x.getDataType() == DataType.FLOAT32 ? x : x.toType(DataType.FLOAT32, false);
            NDArray var = xf.square().mean(new int[] {-1}, true);
            NDArray normed = xf.div(var.add((float) arch.normEps).sqrt());
            return weight.mul(castCompute(normed));
        }

        NDArray layerNorm(NDArray x, String prefix) {
            return LayerNorm.layerNorm(x, new Shape(arch.hiddenSize), p(prefix + "weight"), p(prefix + "bias"),
                    (float) arch.normEps).singletonOrThrow();
        }

        // ---------------------------------------------------------------- GPT-2

        NDArray gpt2Layer(int l, NDArray x) {
            String pre = "transformer.h." + l + ".";
            NDArray h = layerNorm(x, pre + "ln_1.");
            NDArray qkv = h.matMul(p(pre + "attn.c_attn.weight")).add(p(pre + "attn.c_attn.bias"));
            long hs = arch.hiddenSize;
            NDArray q = heads(qkv.get(":, :, 0:" + hs), arch.numHeads);
            NDArray k = heads(qkv.get(":, :, " + hs + ":" + (2 * hs)), arch.numHeads);
            NDArray v = heads(qkv.get(":, :, " + (2 * hs) + ":"), arch.numHeads);
            double scale = 1.0;
            if (arch.scaleAttnWeights) {
                scale /= Math.sqrt(arch.headDim);
            }
            if (arch.scaleAttnByInverseLayerIdx) {
                scale /= l + 1;
            }
            NDArray a = attention(l, q, k, v, scale, 0);
            a = a.matMul(p(pre + "attn.c_proj.weight")).add(p(pre + "attn.c_proj.bias"));
            x = x.add(dropout(a, arch.residDropout));
            h = layerNorm(x, pre + "ln_2.");
            NDArray m = Activations.apply(arch.activation,
                    h.matMul(p(pre + "mlp.c_fc.weight")).add(p(pre + "mlp.c_fc.bias")));
            m = m.matMul(p(pre + "mlp.c_proj.weight")).add(p(pre + "mlp.c_proj.bias"));
            return x.add(dropout(m, arch.residDropout));
        }

        /** [b, t, n*d] to [b, n, t, d]. */
        NDArray heads(NDArray x, int n) {
            return x.reshape(b, t, n, arch.headDim).transpose(0, 2, 1, 3);
        }

        // ---------------------------------------------------------------- Llama family

        NDArray llamaLayer(int l, NDArray x) {
            String pre = "model.layers." + l + ".";
            NDArray h = rmsNorm(x, p(pre + "input_layernorm.weight"));
            NDArray q = rope(heads(linear(h, pre + "self_attn.q_proj"), arch.numHeads));
            NDArray k = rope(heads(linear(h, pre + "self_attn.k_proj"), arch.numKvHeads));
            NDArray v = heads(linear(h, pre + "self_attn.v_proj"), arch.numKvHeads);
            NDArray a = attention(l, q, k, v, 1.0 / Math.sqrt(arch.headDim), arch.slidingWindow[l]);
            x = x.add(linear(a, pre + "self_attn.o_proj"));
            h = rmsNorm(x, p(pre + "post_attention_layernorm.weight"));
            NDArray m;
            if (arch.modelType.equals("mixtral")) {
                m = moe(l, h, pre + "block_sparse_moe.", true);
            } else if (arch.sparseLayer[l]) {
                m = moe(l, h, pre + "mlp.", false);
            } else {
                m = mlp(h, pre + "mlp.");
            }
            return x.add(m);
        }

        NDArray rope(NDArray x) {
            int half = arch.headDim / 2;
            NDArray x1 = x.get(":, :, :, 0:" + half);
            NDArray x2 = x.get(":, :, :, " + half + ":");
            NDArray rotated = x2.neg().concat(x1, -1);
            return x.mul(cos).add(rotated.mul(sin));
        }

        NDArray mlp(NDArray h, String pre) {
            NDArray g = Activations.apply(arch.activation, linear(h, pre + "gate_proj"));
            return linear(g.mul(linear(h, pre + "up_proj")), pre + "down_proj");
        }

        NDArray mixtralExpert(NDArray h, String pre) {
            NDArray g = Activations.apply(arch.activation, linear(h, pre + "w1"));
            return linear(g.mul(linear(h, pre + "w3")), pre + "w2");
        }

        NDArray moe(int layer, NDArray h, String pre, boolean mixtral) {
            long n = b * t;
            long hs = arch.hiddenSize;
            NDArray flat = h.reshape(n, hs);
            NDArray logits = linear(flat, pre + "gate");
            NDArray logits32 = logits.getDataType() == DataType.FLOAT32 ? logits : logits.toType(DataType.FLOAT32, false);
            NDArray experts;
            NDArray weights;
            RoutingOverride override = o.routing();
            if (override != null) {
                RoutingOverride.Routing r = override.route(layer, logits32, arch.topK);
                if (r == null || r.experts() == null || r.weights() == null) {
                    throw new IllegalStateException("routing override returned no routing for layer " + layer);
                }
                experts = r.experts();
                weights = r.weights();
                if (experts.getShape().dimension() != 2 || experts.getShape().get(0) != n
                        || !experts.getShape().equals(weights.getShape())) {
                    throw new IllegalArgumentException("routing override for layer " + layer
                            + " must return experts and weights of shape [" + n + ", k], got "
                            + experts.getShape() + " and " + weights.getShape());
                }
            } else {
                NDArray probs = logits32.softmax(-1);
                NDList top = probs.topK(arch.topK, -1, true, true);
                weights = top.get(0);
                experts = top.get(1);
                if (arch.normTopK) {
                    weights = weights.div(weights.sum(new int[] {-1}, true));
                }
            }
            weights = castCompute(weights);
            long k = experts.getShape().get(1);
            long[] idx = experts.toType(DataType.INT64, false).toLongArray();
            int ne = arch.numExperts;
            long[] counts = new long[ne];
            for (long e : idx) {
                if (e < 0 || e >= ne) {
                    throw new IllegalArgumentException("expert index " + e + " out of range [0, " + ne
                            + ") in layer " + layer);
                }
                counts[(int) e]++;
            }
            // Group the (token, slot) assignments by expert: a stable counting sort.
            long[] start = new long[ne + 1];
            for (int e = 0; e < ne; e++) {
                start[e + 1] = start[e] + counts[e];
            }
            long[] fill = Arrays.copyOf(start, ne);
            long[] tokenOfSorted = new long[idx.length];
            long[] sortedPosOfAssignment = new long[idx.length];
            for (int a = 0; a < idx.length; a++) {
                int e = (int) idx[a];
                long pos = fill[e]++;
                tokenOfSorted[(int) pos] = a / k;
                sortedPosOfAssignment[a] = pos;
            }
            // engine-owned indices: both lookups' backward reads them after the pass's scope has closed them
            NDArray gathered = embed(EngineArrays.longs(tmp, tokenOfSorted), flat);
            NDList outs = new NDList();
            for (int e = 0; e < ne; e++) {
                if (counts[e] == 0) {
                    continue;
                }
                NDArray xe = gathered.get(start[e] + ":" + start[e + 1]);
                String ep = pre + "experts." + e + ".";
                outs.add(mixtral ? mixtralExpert(xe, ep) : mlp(xe, ep));
            }
            NDArray y = outs.size() == 1 ? outs.get(0) : NDArrays.concat(outs, 0);
            NDArray back = embed(EngineArrays.longs(tmp, sortedPosOfAssignment), y).reshape(n, k, hs);
            NDArray result = back.mul(weights.expandDims(-1)).sum(new int[] {1});
            if (!mixtral && arch.sharedExpertIntermediateSize > 0) {
                NDArray shared = mlp(flat, pre + "shared_expert.");
                NDArray gate = Activation.sigmoid(linear(flat, pre + "shared_expert_gate"));
                result = result.add(gate.mul(shared));
            }
            if (o.routerLogits()) {
                routerLogits.add(logits32);
                expertCounts.add(tmp.create(counts));
            }
            return result.reshape(b, t, hs);
        }

        // ---------------------------------------------------------------- attention core

        /**
         * Scaled dot-product attention with grouped-query heads, the KV cache and the additive mask.
         *
         * @param q [b, heads, t, d]
         * @param k [b, kvHeads, t, d] of the new tokens
         * @param v [b, kvHeads, t, d] of the new tokens
         * @return [b, t, heads * d]
         */
        NDArray attention(int l, NDArray q, NDArray k, NDArray v, double scale, int window) {
            if (cache != null) {
                if (k.hasGradient() || v.hasGradient()) {
                    // recorded by autograd: a fresh array, never an in-place write into the buffer
                    if (past > 0) {
                        k = cache.cached(cache.keys, l, past).concat(k, 2);
                        v = cache.cached(cache.values, l, past).concat(v, 2);
                    }
                    newKeys[l] = k;
                    newValues[l] = v;
                } else {
                    k = cache.append(cache.keys, l, k, past);
                    v = cache.append(cache.values, l, v, past);
                }
            }
            int kvh = arch.numKvHeads;
            int rep = arch.numHeads / kvh;
            int d = arch.headDim;
            NDArray qg = q.reshape(b, kvh, rep * t, d);
            NDArray scores = qg.matMul(k.transpose(0, 1, 3, 2));
            if (scores.getDataType() != DataType.FLOAT32) {
                scores = scores.toType(DataType.FLOAT32, false);
            }
            if (arch.isGpt2()) {
                scores = scores.div(Scalars.of(scores, 1.0 / scale));
            } else {
                scores = scores.mul(Scalars.of(scores, scale));
            }
            scores = scores.reshape(b, kvh, rep, t, total).add(bias(window));
            NDArray probs = scores.softmax(-1);
            if (o.attentions()) {
                attentions.add(probs.reshape(b, (long) kvh * rep, t, total));
            }
            probs = dropout(probs, arch.attnDropout);
            NDArray ctx = castCompute(probs).reshape(b, kvh, rep * t, total).matMul(v);
            return ctx.reshape(b, (long) kvh * rep, t, d).transpose(0, 2, 1, 3).reshape(b, t, (long) kvh * rep * d);
        }
    }
}
