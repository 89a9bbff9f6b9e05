package org.distillery.models.vision;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.Dropout;
import ai.djl.nn.norm.LayerNorm;

import org.distillery.kit.loss.Scalars;
import org.distillery.models.arch.Activations;

/**
 * A SigLIP or CLIP vision transformer over named Hugging Face parameters (those of
 * {@code SiglipVisionModel} / {@code CLIPVisionModel}: {@code vision_model.embeddings.*},
 * {@code vision_model.encoder.layers.N.*}, {@code vision_model.post_layernorm.*}, and CLIP's
 * {@code vision_model.pre_layrnorm.*}). The forward pass is plain NDArray arithmetic, so a
 * caller's gradient collector records it.
 *
 * <p>Hidden states follow Hugging Face's {@code output_hidden_states}: entry 0 is the embeddings
 * (patch embeddings plus position embeddings; for CLIP with the class token in front, after
 * {@code pre_layrnorm}), entry i the output of encoder layer i; none has {@code post_layernorm}
 * applied (only the pooled/last output has, which LLaVA does not use).
 */
public final class VisionTower {

    /** The prefix of every tower parameter in a vision model's own checkpoint. */
    public static final String ROOT = "vision_model.";

    private final VisionConfig config;
    private final Map<String, NDArray> params;

    /**
     * A tower over {@code params} (names as {@link #shapes} gives them).
     *
     * @throws IllegalArgumentException when a parameter is missing
     */
    public VisionTower(VisionConfig config, Map<String, NDArray> params) {
        this.config = config;
        for (String n : shapes(config).keySet()) {
            if (!params.containsKey(n)) {
                throw new IllegalArgumentException("vision tower parameter " + n + " is missing");
            }
        }
        this.params = params;
    }

    /** The tower's configuration. */
    public VisionConfig config() {
        return config;
    }

    /** Parameter names and shapes in Hugging Face order (the attention-pooling head of SigLIP excluded). */
    public static Map<String, Shape> shapes(VisionConfig c) {
        Map<String, Shape> m = new LinkedHashMap<>();
        long h = c.hiddenSize;
        long ff = c.intermediateSize;
        String e = ROOT + "embeddings.";
        if (c.isClip()) {
            m.put(e + "class_embedding", new Shape(h));
        }
        m.put(e + "patch_embedding.weight", new Shape(h, c.numChannels, c.patchSize, c.patchSize));
        if (!c.isClip()) {
            m.put(e + "patch_embedding.bias", new Shape(h));
        }
        m.put(e + "position_embedding.weight", new Shape(c.numPositions(), h));
        if (c.isClip()) {
            m.put(ROOT + "pre_layrnorm.weight", new Shape(h));
            m.put(ROOT + "pre_layrnorm.bias", new Shape(h));
        }
        for (int i = 0; i < c.numLayers; i++) {
            String p = ROOT + "encoder.layers." + i + ".";
            for (String proj : List.of("k_proj", "v_proj", "q_proj", "out_proj")) {
                m.put(p + "self_attn." + proj + ".weight", new Shape(h, h));
                m.put(p + "self_attn." + proj + ".bias", new Shape(h));
            }
            m.put(p + "layer_norm1.weight", new Shape(h));
            m.put(p + "layer_norm1.bias", new Shape(h));
            m.put(p + "mlp.fc1.weight", new Shape(ff, h));
            m.put(p + "mlp.fc1.bias", new Shape(ff));
            m.put(p + "mlp.fc2.weight", new Shape(h, ff));
            m.put(p + "mlp.fc2.bias", new Shape(h));
            m.put(p + "layer_norm2.weight", new Shape(h));
            m.put(p + "layer_norm2.bias", new Shape(h));
        }
        m.put(ROOT + "post_layernorm.weight", new Shape(h));
        m.put(ROOT + "post_layernorm.bias", new Shape(h));
        return m;
    }

    /**
     * Whether a tower tensor of a checkpoint that is not a parameter may be ignored: CLIP's
     * {@code position_ids} buffer and SigLIP's attention-pooling head (LLaVA never uses either).
     */
    public static boolean tolerated(String name) {
        return name.equals(ROOT + "embeddings.position_ids") || name.startsWith(ROOT + "head.");
    }

    /** Standard deviation of random init for {@code name}: 0 for zeros, -1 for ones. */
    public static double initStd(VisionConfig c, String name) {
        if (name.endsWith("norm1.weight") || name.endsWith("norm2.weight") || name.endsWith("layernorm.weight")
                || name.endsWith("layrnorm.weight")) {
            return -1;
        }
        if (name.endsWith(".bias")) {
            return 0;
        }
        return c.initializerRange;
    }

    /**
     * Runs the tower on {@code pixels} [images, channels, height, width] and returns hidden states
     * 0..{@code upTo} (index 0 the embeddings; later layers are not computed).
     *
     * @param training dropout on attention probabilities when the config has any
     */
    public List<NDArray> hiddenStates(NDArray pixels, int upTo, boolean training) {
        Shape s = pixels.getShape();
        int c = config.numChannels;
        int size = config.imageSize;
        if (s.dimension() != 4 || s.get(1) != c || s.get(2) != size || s.get(3) != size) {
            throw new IllegalArgumentException("pixel values must be [images, " + c + ", " + size + ", " + size
                    + "] for this " + config.modelType + " tower, got " + s);
        }
        if (upTo < 0 || upTo > config.numLayers) {
            throw new IllegalArgumentException("hidden state " + upTo + " outside 0.." + config.numLayers);
        }
        DataType dtype = p(ROOT + "embeddings.patch_embedding.weight").getDataType();
        NDArray x = pixels.getDataType() == dtype ? pixels : pixels.toType(dtype, false);
        long n = s.get(0);
        int p = config.patchSize;
        int side = size / p;
        long h = config.hiddenSize;
        // a convolution with kernel = stride = patch is a linear map of each flattened patch; patches
        // in row-major order, as Hugging Face flattens the convolution's output grid
        NDArray patches = x.reshape(n, c, side, p, side, p).transpose(0, 2, 4, 1, 3, 5)
                .reshape(n, (long) side * side, (long) c * p * p);
        NDArray w = p(ROOT + "embeddings.patch_embedding.weight").reshape(h, (long) c * p * p);
        NDArray emb = config.isClip() ? Linear.linear(patches, w).singletonOrThrow()
                : Linear.linear(patches, w, p(ROOT + "embeddings.patch_embedding.bias")).singletonOrThrow();
        if (config.isClip()) {
            NDArray cls = p(ROOT + "embeddings.class_embedding").reshape(1, 1, h).broadcast(new Shape(n, 1, h));
            emb = cls.concat(emb, 1);
        }
        emb = emb.add(p(ROOT + "embeddings.position_embedding.weight").expandDims(0));
        if (config.isClip()) {
            emb = layerNorm(emb, ROOT + "pre_layrnorm.");
        }
        List<NDArray> states = new ArrayList<>();
        states.add(emb);
        NDArray hidden = emb;
        for (int l = 0; l < upTo; l++) {
            hidden = layer(l, hidden, training);
            states.add(hidden);
        }
        return states;
    }

    private NDArray layer(int l, NDArray x, boolean training) {
        String pre = ROOT + "encoder.layers." + l + ".";
        NDArray h = layerNorm(x, pre + "layer_norm1.");
        x = x.add(attention(h, pre + "self_attn.", training));
        h = layerNorm(x, pre + "layer_norm2.");
        NDArray m = Activations.apply(config.activation, linear(h, pre + "mlp.fc1"));
        return x.add(linear(m, pre + "mlp.fc2"));
    }

    private NDArray attention(NDArray x, String pre, boolean training) {
        Shape s = x.getShape();
        long b = s.get(0);
        long t = s.get(1);
        int heads = config.numHeads;
        int d = config.headDim();
        NDArray q = linear(x, pre + "q_proj").reshape(b, t, heads, d).transpose(0, 2, 1, 3);
        NDArray k = linear(x, pre + "k_proj").reshape(b, t, heads, d).transpose(0, 2, 1, 3);
        NDArray v = linear(x, pre + "v_proj").reshape(b, t, heads, d).transpose(0, 2, 1, 3);
        NDArray scores = q.matMul(k.transpose(0, 1, 3, 2));
        scores = scores.mul(Scalars.of(scores, 1.0 / Math.sqrt(d)));
        NDArray probs = scores.toType(DataType.FLOAT32, false).softmax(-1).toType(x.getDataType(), false);
        if (training && config.attentionDropout > 0) {
            probs = Dropout.dropout(probs, (float) config.attentionDropout, true).singletonOrThrow();
        }
        NDArray ctx = probs.matMul(v).transpose(0, 2, 1, 3).reshape(b, t, (long) heads * d);
        return linear(ctx, pre + "out_proj");
    }

    private NDArray linear(NDArray x, String prefix) {
        return Linear.linear(x, p(prefix + ".weight"), p(prefix + ".bias")).singletonOrThrow();
    }

    private NDArray layerNorm(NDArray x, String prefix) {
        return LayerNorm.layerNorm(x, new Shape(config.hiddenSize), p(prefix + "weight"), p(prefix + "bias"),
                (float) config.normEps).singletonOrThrow();
    }

    private NDArray p(String name) {
        NDArray a = params.get(name);
        if (a == null) {
            throw new IllegalStateException("missing vision parameter " + name);
        }
        return a;
    }
}
