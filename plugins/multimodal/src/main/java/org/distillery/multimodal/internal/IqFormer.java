package org.distillery.multimodal.internal;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

import com.google.gson.Gson;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.Activation;
import ai.djl.nn.core.Linear;
import ai.djl.nn.norm.LayerNorm;

import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.loss.Scalars;

/**
 * VIKDF's Implicit Query Transformer (IQ-Former; Zhang et al., Information Fusion 118:102985, 2025;
 * zhangbo-nlp/VIKDF {@code modeling_zrigf_2.py}) at the embedded scale, with the heads its two
 * training steps use. {@code queries} learned vectors of width {@code width} pass through
 * {@code layers} pre-LN blocks (self-attention among the queries, cross-attention to a memory,
 * an MLP); the memory is either an image's features (image queries) or a text's token
 * embeddings with learned positions (text queries), so at inference, without an image, the text
 * alone yields "implicit" visual queries.
 *
 * <p>Heads: {@code itc} (pooled queries into the contrastive space), the masked-image decoder
 * ({@code mim.*}: patch positions and a mask vector cross-attend to the text queries and predict
 * the masked patches' features), the masked-text decoder ({@code mlm.*}: the caption with masked
 * tokens cross-attends to the image queries and predicts them), {@code llm_proj} (queries into the
 * language model's inputs), and for text-to-image matching the {@code t2i_slots} appended after a
 * text and {@code t2i_proj} (the language model's states at the slots into query space).
 *
 * <p>Parameters are plain arrays by name, initialised from a seeded {@link SplittableRandom}
 * (normal 0.02, biases 0, norms 1) and saved as an {@link NDList} with {@code iqformer.json}.
 */
final class IqFormer {

    /** The weights file. */
    static final String WEIGHTS = "iqformer.params";
    /** The dimensions file. */
    static final String CONFIG = "iqformer.json";

    private static final Gson GSON = new Gson();

    /**
     * The shape of an IQ-Former.
     *
     * @param queries learned query vectors
     * @param width their width
     * @param layers blocks
     * @param heads attention heads
     * @param imageWidth width of the image features
     * @param imageTokens image features per image
     * @param textWidth width of the language model's embeddings
     * @param vocab the language model's vocabulary (masked-text head)
     * @param maxText text positions
     */
    record Dims(int queries, int width, int layers, int heads, int imageWidth, int imageTokens, int textWidth, int vocab,
                int maxText) {
    }

    final Dims dims;
    final Map<String, NDArray> params;

    private IqFormer(Dims dims, Map<String, NDArray> params) {
        this.dims = dims;
        this.params = params;
    }

    /** A fresh IQ-Former in {@code manager}, seeded. */
    static IqFormer create(Dims d, long seed, NDManager manager) {
        Map<String, Shape> shapes = shapes(d);
        Map<String, NDArray> p = new LinkedHashMap<>();
        for (Map.Entry<String, Shape> e : shapes.entrySet()) {
            String n = e.getKey();
            float[] data = new float[(int) e.getValue().size()];
            if (n.endsWith("norm.weight") || n.matches(".*ln\\d?\\.weight")) {
                java.util.Arrays.fill(data, 1f);
            } else if (!n.endsWith(".bias")) {
                SplittableRandom r = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + n.hashCode());
                for (int i = 0; i < data.length; i++) {
                    data[i] = (float) (r.nextGaussian() * 0.02);
                }
            }
            p.put(n, manager.create(data, e.getValue()));
        }
        return new IqFormer(d, p);
    }

    static Map<String, Shape> shapes(Dims d) {
        Map<String, Shape> m = new LinkedHashMap<>();
        long w = d.width();
        m.put("queries", new Shape(d.queries(), w));
        linear(m, "image_in", w, d.imageWidth());
        linear(m, "text_in", w, d.textWidth());
        m.put("text_pos", new Shape(d.maxText(), w));
        for (int i = 0; i < d.layers(); i++) {
            block(m, "blocks." + i + ".", w, true);
        }
        norm(m, "ln_out", w);
        m.put("itc.weight", new Shape(w, w));
        m.put("mim.pos", new Shape(d.imageTokens(), w));
        m.put("mim.mask", new Shape(w));
        block(m, "mim.block.", w, false);
        linear(m, "mim.out", d.imageWidth(), w);
        m.put("mlm.mask", new Shape(w));
        block(m, "mlm.block.", w, true);
        linear(m, "mlm.out", d.vocab(), w);
        linear(m, "llm_proj", d.textWidth(), w);
        m.put("t2i_slots", new Shape(d.queries(), d.textWidth()));
        linear(m, "t2i_proj", w, d.textWidth());
        return m;
    }

    private static void linear(Map<String, Shape> m, String n, long out, long in) {
        m.put(n + ".weight", new Shape(out, in));
        m.put(n + ".bias", new Shape(out));
    }

    private static void norm(Map<String, Shape> m, String n, long w) {
        m.put(n + ".weight", new Shape(w));
        m.put(n + ".bias", new Shape(w));
    }

    private static void block(Map<String, Shape> m, String p, long w, boolean self) {
        if (self) {
            norm(m, p + "ln1", w);
            for (String x : new String[] {"q", "k", "v", "o"}) {
                linear(m, p + "self." + x, w, w);
            }
        }
        norm(m, p + "ln2", w);
        for (String x : new String[] {"q", "k", "v", "o"}) {
            linear(m, p + "cross." + x, w, w);
        }
        norm(m, p + "ln3", w);
        linear(m, p + "mlp.fc1", 2 * w, w);
        linear(m, p + "mlp.fc2", w, 2 * w);
    }

    /** Image queries [b, queries, width] of image features [b, tokens, imageWidth]. */
    NDArray imageQueries(NDArray features) {
        return encode(dense(features, "image_in"), null);
    }

    /** Text queries [b, queries, width] of token embeddings [b, t, textWidth] with mask [b, t]. */
    NDArray textQueries(NDArray embeddings, NDArray mask) {
        long t = embeddings.getShape().get(1);
        if (t > dims.maxText()) {
            throw new IllegalArgumentException("text of " + t + " tokens exceeds the IQ-Former's " + dims.maxText()
                    + " positions");
        }
        NDArray x = dense(embeddings, "text_in").add(p("text_pos").get(":" + t).expandDims(0));
        return encode(x, mask);
    }

    /** The queries through every block, attending to {@code memory} [b, m, width] (mask [b, m] or null). */
    NDArray encode(NDArray memory, NDArray mask) {
        long b = memory.getShape().get(0);
        NDArray x = p("queries").expandDims(0).broadcast(new Shape(b, dims.queries(), dims.width()));
        for (int i = 0; i < dims.layers(); i++) {
            x = block("blocks." + i + ".", x, memory, mask, null);
        }
        return norm(x, "ln_out");
    }

    /**
     * One pre-LN block: self-attention over {@code x} (keys masked by {@code selfMask}), when the
     * block has one, cross-attention to {@code memory} (keys masked by {@code memoryMask}), an MLP.
     */
    NDArray block(String p, NDArray x, NDArray memory, NDArray memoryMask, NDArray selfMask) {
        if (params.containsKey(p + "ln1.weight")) {
            NDArray h = norm(x, p + "ln1");
            x = x.add(attention(p + "self.", h, h, selfMask));
        }
        x = x.add(attention(p + "cross.", norm(x, p + "ln2"), memory, memoryMask));
        NDArray h = Activation.gelu(dense(norm(x, p + "ln3"), p + "mlp.fc1"));
        return x.add(dense(h, p + "mlp.fc2"));
    }

    /** Multi-head attention of queries {@code q} [b, n, w] over keys {@code kv} [b, m, w], keys masked by [b, m]. */
    NDArray attention(String p, NDArray q, NDArray kv, NDArray mask) {
        long b = q.getShape().get(0);
        long n = q.getShape().get(1);
        long m = kv.getShape().get(1);
        int h = dims.heads();
        long d = dims.width() / h;
        NDArray qh = dense(q, p + "q").reshape(b, n, h, d).transpose(0, 2, 1, 3);
        NDArray kh = dense(kv, p + "k").reshape(b, m, h, d).transpose(0, 2, 1, 3);
        NDArray vh = dense(kv, p + "v").reshape(b, m, h, d).transpose(0, 2, 1, 3);
        NDArray scores = qh.matMul(kh.transpose(0, 1, 3, 2));
        scores = scores.mul(Scalars.of(scores, 1.0 / Math.sqrt(d)));
        if (mask != null) {
            NDArray bias = mask.toType(DataType.FLOAT32, false).sub(mask.getManager().create(1f))
                    .mul(mask.getManager().create(1e9f)).reshape(b, 1, 1, m);
            scores = scores.add(bias);
        }
        NDArray ctx = scores.softmax(-1).matMul(vh).transpose(0, 2, 1, 3).reshape(b, n, dims.width());
        return dense(ctx, p + "o");
    }

    /** {@code x W^T} without a bias. */
    NDArray dense0(NDArray x, String name) {
        return Linear.linear(x, p(name + ".weight")).singletonOrThrow();
    }

    NDArray dense(NDArray x, String name) {
        return Linear.linear(x, p(name + ".weight"), p(name + ".bias")).singletonOrThrow();
    }

    NDArray norm(NDArray x, String name) {
        return LayerNorm.layerNorm(x, p(name + ".weight").getShape(), p(name + ".weight"), p(name + ".bias"), 1e-5f)
                .singletonOrThrow();
    }

    NDArray p(String name) {
        NDArray a = params.get(name);
        if (a == null) {
            throw new IllegalStateException("IQ-Former has no parameter " + name);
        }
        return a;
    }

    /** Writes the weights and dimensions into {@code dir} atomically. */
    void save(Path dir) throws IOException {
        Files.createDirectories(dir);
        NDList list = new NDList();
        params.forEach((n, a) -> {
            a.setName(n);
            list.add(a);
        });
        AtomicFiles.write(dir.resolve(WEIGHTS), list::encode);
        AtomicFiles.writeString(dir.resolve(CONFIG), GSON.toJson(dims));
    }

    /** Loads what {@link #save} wrote, into {@code manager}. */
    static IqFormer load(Path dir, NDManager manager) throws IOException {
        Dims d;
        try {
            d = GSON.fromJson(Files.readString(dir.resolve(CONFIG)), Dims.class);
        } catch (RuntimeException e) {
            throw new IOException(dir.resolve(CONFIG) + ": not an IQ-Former description: " + e.getMessage(), e);
        }
        Map<String, Shape> shapes = shapes(d);
        Map<String, NDArray> p = new LinkedHashMap<>();
        try (InputStream in = new java.io.BufferedInputStream(Files.newInputStream(dir.resolve(WEIGHTS)))) {
            for (NDArray a : NDList.decode(manager, in)) {
                if (!a.getShape().equals(shapes.get(a.getName()))) {
                    throw new IOException(dir.resolve(WEIGHTS) + ": parameter " + a.getName() + " does not match "
                            + CONFIG);
                }
                p.put(a.getName(), a);
            }
        }
        if (!p.keySet().equals(shapes.keySet())) {
            throw new IOException(dir.resolve(WEIGHTS) + ": missing parameters of the IQ-Former");
        }
        return new IqFormer(d, p);
    }

    /** Whether {@code dir} holds an IQ-Former. */
    static boolean present(Path dir) {
        return Files.exists(dir.resolve(WEIGHTS)) && Files.exists(dir.resolve(CONFIG));
    }
}
