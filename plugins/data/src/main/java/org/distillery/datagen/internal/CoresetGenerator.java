package org.distillery.datagen.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;

/**
 * {@code data.coreset}: dataset distillation by selection (METHODS.md section 14): a small subset
 * of {@code input} chosen with a local model ({@code model-dir}, loaded through the run's model
 * service; no endpoint).
 *
 * <ul>
 *   <li>{@code method = gradient}: per-example gradients of the next-token loss on the response
 *       tokens with respect to the last layer, exactly and without autograd: with E = softmax(z) -
 *       onehot(y) at each counted position and h the final hidden state, {@code gradient = lm-head}
 *       is the lm-head weight gradient mean_t E_t h_t^T (V x d values per example; the Gram matrix
 *       of N examples is computed on the tensor engine), {@code gradient = logits} its bias part
 *       mean_t E_t (V values). Then greedy gradient matching (OMP) against the full set's gradient
 *       sum with non-negative weights ({@link Coreset#gradientMatching}, GradMatch's OMP with a
 *       non-negative refit); weights go to {@code meta.coreset-weight}, which {@code data.dataset}
 *       turns into a weighted loss with {@code record-weight = coreset-weight}.</li>
 *   <li>{@code method = mmd}: mean final hidden state of each example (the model's embedding),
 *       then greedy selection minimising the linear-kernel MMD to the full set
 *       ({@link Coreset#mmdGreedy}).</li>
 *   <li>{@code method = random}: a seeded uniform sample of the same size (the baseline).</li>
 * </ul>
 * With {@code random-init = true} the model is a fresh random one of the folder's architecture
 * (DC/DM's theta_0 ~ P_theta0) instead of the trained weights. The subset is written in the input's
 * order; provenance records the matching error. A budget that covers the set returns the set.
 *
 * <pre>
 * generator { key = data.coreset, params { input = train.jsonl, model-dir = student-init, size = 200, method = gradient } }
 * </pre>
 */
final class CoresetGenerator extends Generated {

    static final String KEY = "data.coreset";

    private final String input;
    private final String inputPath;
    private final String modelDir;
    private final boolean randomInit;
    private final String method;
    private final String gradient;
    private final int size;
    private final double fraction;
    private final int maxLength;
    private final int batchSize;
    private final long seed;

    CoresetGenerator(Params p) {
        input = p.string("input");
        inputPath = p.at("input");
        Inputs.check(input, inputPath);
        modelDir = p.string("model-dir");
        if (modelDir.isEmpty() || !Files.isRegularFile(Path.of(modelDir, "config.json"))) {
            throw new InvalidConfigException(p.at("model-dir"), modelDir.isEmpty() ? "is required"
                    : "not a model folder (no config.json)", Params.quote(modelDir),
                    "a Hugging Face model folder with a tokenizer, e.g. the teacher's or a student's");
        }
        randomInit = p.bool("random-init");
        method = p.choice("method", "gradient", "mmd", "random");
        gradient = p.choice("gradient", "lm-head", "logits");
        size = p.integer("size", 0);
        fraction = p.number("fraction", 0, 1);
        if ((size == 0) == (fraction == 0)) {
            throw new InvalidConfigException(p.at("size"), "give exactly one of size and fraction",
                    "size=" + size + ", fraction=" + fraction, "size = 200 (and fraction = 0), or fraction = 0.1 (and size = 0)");
        }
        maxLength = p.integer("max-length", 2);
        batchSize = p.integer("batch-size", 1);
        seed = p.config().getLong("seed");
    }

    @Override
    Output produce(GeneratorContext run) throws IOException {
        Path workDir = run.workDir();
        long s = seed < 0 ? run.resources().seed() : seed;
        List<Example> all = run.datasets().read(input, Datasets.Split.TRAIN, inputPath);
        if (all.isEmpty()) {
            throw new InvalidConfigException(inputPath, "has no records", Params.quote(input), "a non-empty dataset");
        }
        int budget = size > 0 ? size : Math.max(1, (int) Math.round(fraction * all.size()));
        Provenance prov = new Provenance(KEY);
        prov.put("input", input).put("seed", s).put("method", method).put("budget", budget)
                .put("model", Map.of("model-dir", modelDir, "random-init", randomInit));
        if (method.equals("gradient")) {
            prov.put("gradient", gradient);
        }
        Coreset.Selection sel;
        long t0 = System.nanoTime();
        if (budget >= all.size()) {
            int[] idx = new int[all.size()];
            Arrays.setAll(idx, i -> i);
            double[] ones = new double[all.size()];
            Arrays.fill(ones, 1.0);
            sel = new Coreset.Selection(idx, ones, 0.0);
        } else if (method.equals("random")) {
            List<Integer> order = new ArrayList<>();
            for (int i = 0; i < all.size(); i++) {
                order.add(i);
            }
            Collections.shuffle(order, new Random(s));
            int[] idx = order.subList(0, budget).stream().mapToInt(Integer::intValue).toArray();
            double[] w = new double[budget];
            Arrays.fill(w, (double) all.size() / budget);
            sel = new Coreset.Selection(idx, w, Double.NaN);
        } else {
            float[][] features = features(run, all, s);
            if (method.equals("mmd")) {
                double[][] emb = new double[features.length][];
                for (int i = 0; i < features.length; i++) {
                    emb[i] = new double[features[i].length];
                    for (int c = 0; c < emb[i].length; c++) {
                        emb[i][c] = features[i][c];
                    }
                }
                sel = Coreset.mmdGreedy(emb, budget);
            } else {
                sel = Coreset.gradientMatching(gram(run, features), budget);
            }
        }
        prov.put("selection-seconds", (System.nanoTime() - t0) / 1e9);
        prov.put("selected", sel.indices().length);
        prov.put(method.equals("mmd") ? "mmd" : "gradient-error", Double.isNaN(sel.error()) ? null : sel.error());
        Map<Integer, Double> weight = new LinkedHashMap<>();
        for (int i = 0; i < sel.indices().length; i++) {
            weight.put(sel.indices()[i], sel.weights()[i]);
        }
        Provenance.Step step = prov.step("selection");
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < all.size(); i++) {
            Double w = weight.get(i);
            if (w == null) {
                step.dropped("not-selected");
                continue;
            }
            step.kept();
            Example e = all.get(i);
            Map<String, String> meta = new LinkedHashMap<>(e.meta() == null ? Map.of() : e.meta());
            meta.put("coreset-weight", String.format(Locale.ROOT, "%.4f", w));
            out.add(new Example(e.id(), e.prompt(), e.response(), e.messages(), e.text(), Map.copyOf(meta)));
        }
        return new Output(out, prov);
    }

    /** Per-example feature rows: gradients (method gradient) or mean hidden states (method mmd). */
    private float[][] features(GeneratorContext run, List<Example> all, long s) throws IOException {
        Path dir = Path.of(modelDir);
        Tokenizer tok = run.resources().models().tokenizer(dir);
        try (NDManager m = run.resources().manager().newSubManager();
             LanguageModel model = randomInit ? run.resources().models().create(run.resources().models().readConfig(dir), s, m)
                     : run.resources().models().load(dir, DataType.FLOAT32, m)) {
            int context = model.config().maxPositions() > 0 ? Math.min(maxLength, model.config().maxPositions())
                    : maxLength;
            float[][] out = new float[all.size()][];
            for (int start = 0; start < all.size(); start += batchSize) {
                if (run.stopRequested()) {
                    throw new IllegalStateException("stopped while computing coreset features");
                }
                int n = Math.min(batchSize, all.size() - start);
                List<Records.Encoded> batch = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    batch.add(Records.encode(all.get(start + i), tok, context, Records.Truncation.KEEP_PROMPT_END));
                }
                float[][] rows = batchFeatures(model, batch, tok, m);
                System.arraycopy(rows, 0, out, start, n);
            }
            return out;
        }
    }

    private float[][] batchFeatures(LanguageModel model, List<Records.Encoded> batch, Tokenizer tok, NDManager parent) {
        int b = batch.size();
        int t = batch.stream().mapToInt(x -> x.ids().length).max().orElse(1);
        int vocab = model.config().vocabSize();
        int pad = tok.padId() >= 0 && tok.padId() < vocab ? tok.padId() : 0;
        long[] ids = new long[b * t];
        long[] targets = new long[b * t];
        float[] attn = new float[b * t];
        float[] loss = new float[b * t];
        Arrays.fill(ids, pad);
        for (int r = 0; r < b; r++) {
            int[] seq = batch.get(r).ids();
            for (int i = 0; i < seq.length; i++) {
                ids[r * t + i] = seq[i];
                attn[r * t + i] = 1f;
                if (i + 1 < seq.length) {
                    targets[r * t + i] = seq[i + 1];
                    // position i predicts token i + 1; count it when that token is a response token
                    loss[r * t + i] = i + 1 >= batch.get(r).promptLength() ? 1f : 0f;
                }
            }
        }
        try (NDManager m = parent.newSubManager()) {
            NDArray input = m.create(ids, new Shape(b, t));
            NDArray mask = m.create(attn, new Shape(b, t));
            ModelOutput o = model.forward(input, ForwardOptions.inference().withMask(mask).withHiddenStates());
            List<NDArray> hs = o.hiddenStates();
            NDArray h = hs.get(hs.size() - 1).toType(DataType.FLOAT32, false);
            if (method.equals("mmd")) {
                NDArray w = mask.expandDims(2);
                NDArray emb = h.mul(w).sum(new int[] {1}).div(w.sum(new int[] {1}).maximum(m.create(1f)));
                return rows(emb, b);
            }
            NDArray lossMask = m.create(loss, new Shape(b, t, 1));
            NDArray probs = o.logits().toType(DataType.FLOAT32, false).softmax(-1);
            NDArray onehot = m.create(targets, new Shape(b, t)).oneHot(vocab).toType(DataType.FLOAT32, false);
            NDArray err = probs.sub(onehot).mul(lossMask);
            NDArray counts = lossMask.sum(new int[] {1}).maximum(m.create(1f)); // [b, 1]
            if (gradient.equals("logits")) {
                return rows(err.sum(new int[] {1}).div(counts), b);
            }
            NDArray g = err.transpose(0, 2, 1).batchMatMul(h).div(counts.expandDims(2)); // [b, vocab, hidden]
            return rows(g.reshape(b, -1), b);
        }
    }

    private static float[][] rows(NDArray a, int b) {
        float[] flat = a.toFloatArray();
        int d = flat.length / b;
        float[][] out = new float[b][];
        for (int r = 0; r < b; r++) {
            out[r] = Arrays.copyOfRange(flat, r * d, (r + 1) * d);
        }
        return out;
    }

    /** K = F F^T on the tensor engine. */
    private static double[][] gram(GeneratorContext run, float[][] features) {
        int n = features.length;
        int d = features[0].length;
        float[] flat = new float[n * d];
        for (int r = 0; r < n; r++) {
            System.arraycopy(features[r], 0, flat, r * d, d);
        }
        try (NDManager m = run.resources().manager().newSubManager()) {
            NDArray f = m.create(flat, new Shape(n, d));
            float[] k = f.dot(f.transpose()).toFloatArray();
            double[][] out = new double[n][n];
            for (int r = 0; r < n; r++) {
                for (int c = 0; c < n; c++) {
                    out[r][c] = k[r * n + c];
                }
            }
            return out;
        }
    }

    /** The factory. */
    static final class Factory extends GeneratorFactory {
        @Override
        public String description() {
            return "dataset distillation by selection: greedy gradient matching (lm-head gradients) or MMD on hidden states";
        }

        @Override
        Generated create(Params params) {
            return new CoresetGenerator(params);
        }
    }
}
