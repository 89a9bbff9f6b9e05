package org.distillery.models.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.nn.core.Linear;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.tensor.TensorService;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;

/**
 * {@code distill bench forward}: achieved FLOP/s of one training step (forward + cross-entropy
 * + backward) of a Llama-style model, as a fraction of the fp32 matmul peak measured by the
 * same call on the same engine and threads.
 *
 * <p>Model (defaults): hidden d = 512, L = 8 layers, 8 heads of 64, no grouped-query
 * attention, SwiGLU width 1376 (Llama's 11008/4096 ratio), vocabulary V = 8192, untied head,
 * float32; batch B = 4, sequence S = 256, random input ids and random targets.
 *
 * <p>A step: every parameter requires a gradient; inside a DJL {@link GradientCollector} the
 * model runs in training mode, the loss is the mean of {@code -log_softmax(logits)[target]}
 * over the B*S positions, and {@code backward} fills every gradient. Gradients are zeroed
 * between steps outside the timed region; there is no optimizer update.
 *
 * <p>FLOPs of a step, counted analytically (one multiply-add = 2 FLOPs):
 * <pre>
 *   FLOPs = 6 * N_mm * B * S  +  12 * L * B * S^2 * d
 * </pre>
 * where {@code N_mm} is the number of weights used in a matrix product: every 2-D parameter
 * except the input embedding (a lookup, no FLOPs), i.e. per layer the q, k, v, o projections
 * and the three SwiGLU matrices, plus the output head V*d. Forward costs 2 FLOPs per weight and
 * token; backward costs twice the forward (gradient of the input and of the weight), hence 6.
 * The second term is the attention products: QK^T and PV cost 2*S^2*d each per layer and
 * sequence forward, times 3 for forward + backward; the model computes the full S x S score
 * matrix and masks it (causal masking does not skip work), so the full S^2 is counted, which
 * is what the engine executes. Not counted: norms, RoPE, SiLU, softmax, the loss, additions,
 * biases (none here) and data movement; all of them take time, so the ratio is a lower bound on
 * matmul efficiency and an honest figure for the whole step.
 *
 * <p>Peak: fp32 matmuls timed after a warm-up, each the best of a few repeats: a square
 * {@code n x n x n} product (default n = 2048) and the model's own largest GEMMs called the way
 * the model calls them ({@code x * W^T} via {@link Linear#linear}): the output head
 * [B*S, d] x [d, V] and the SwiGLU up-projection [B*S, d] x [d, ff]. The peak is the best rate
 * of all of them, measured before and after the training steps (the higher counts), so a
 * machine that got busier during the steps lowers the percentage rather than raising it. The
 * achieved rate is printed from the median step and from the fastest step. On a shared
 * machine whose load changes during the command, the paired figure is the steadier one: right
 * after each timed step the square matmul is timed again (best of 2), and each step's FLOP/s is
 * divided by that adjacent rate; the median of these per-step ratios is printed too.
 */
public final class ForwardBench {

    private ForwardBench() {
    }

    /**
     * What to measure.
     *
     * @param batch sequences per step
     * @param seq tokens per sequence
     * @param hidden residual width d
     * @param layers decoder layers
     * @param heads attention heads
     * @param intermediate SwiGLU width
     * @param vocab vocabulary size
     * @param warmup untimed steps first
     * @param steps timed steps
     * @param matmulSize n of the square n x n x n peak matmul
     * @param matmulRepeats timed repeats of each peak matmul (best counts)
     * @param seed weights seed
     */
    public record Options(int batch, int seq, int hidden, int layers, int heads, int intermediate, int vocab,
                          int warmup, int steps, int matmulSize, int matmulRepeats, long seed) {

        /** The configuration: d = 512, 8 layers, seq 256, batch 4. */
        public static Options defaults() {
            return new Options(4, 256, 512, 8, 8, 1376, 8192, 1, 5, 2048, 5, 7L);
        }

        /** A copy with another batch and sequence length. */
        public Options withShape(int b, int s) {
            return new Options(b, s, hidden, layers, heads, intermediate, vocab, warmup, steps, matmulSize,
                    matmulRepeats, seed);
        }

        /** A copy with another model size. */
        public Options withModel(int d, int l, int h, int ff, int v) {
            return new Options(batch, seq, d, l, h, ff, v, warmup, steps, matmulSize, matmulRepeats, seed);
        }

        /** A copy with other step counts. */
        public Options withSteps(int w, int n) {
            return new Options(batch, seq, hidden, layers, heads, intermediate, vocab, w, n, matmulSize,
                    matmulRepeats, seed);
        }

        /** A copy with another peak matmul. */
        public Options withMatmul(int n, int repeats) {
            return new Options(batch, seq, hidden, layers, heads, intermediate, vocab, warmup, steps, n, repeats, seed);
        }

        /** Throws {@link IllegalArgumentException} naming the option that is out of range. */
        public void check() {
            if (batch <= 0 || seq <= 0 || hidden <= 0 || layers <= 0 || heads <= 0 || intermediate <= 0 || vocab <= 1
                    || warmup < 0 || steps <= 0 || matmulSize <= 0 || matmulRepeats <= 0) {
                throw new IllegalArgumentException("sizes, steps and repeats must be positive (warm-up >= 0)");
            }
            if (hidden % heads != 0 || (hidden / heads) % 2 != 0) {
                throw new IllegalArgumentException("hidden " + hidden + " must split into " + heads
                        + " heads of even width");
            }
        }
    }

    /**
     * One timed GEMM.
     *
     * @param name what it is
     * @param m rows of the left operand
     * @param k inner dimension
     * @param n columns of the result
     * @param flopsPerSecond best rate, before and after the steps
     */
    public record Gemm(String name, long m, long k, long n, double flopsPerSecond) {
    }

    /**
     * The figures printed.
     *
     * @param parameters all parameters
     * @param matmulParameters N_mm of the formula
     * @param flopsPerStep analytic FLOPs of one step
     * @param stepSeconds time of each timed step
     * @param gemms the peak measurements
     * @param peakFlopsPerSecond the best GEMM rate
     * @param adjacentFlopsPerSecond the square matmul's rate timed right after each timed step
     */
    public record Result(long parameters, long matmulParameters, double flopsPerStep, double[] stepSeconds,
                         List<Gemm> gemms, double peakFlopsPerSecond, double[] adjacentFlopsPerSecond) {

        /** Median over steps of (step FLOP/s / square matmul FLOP/s timed right after the step). */
        public double medianPairedRatio() {
            double[] r = new double[stepSeconds.length];
            for (int i = 0; i < r.length; i++) {
                r[i] = flopsPerStep / stepSeconds[i] / adjacentFlopsPerSecond[i];
            }
            return BenchSupport.median(r);
        }

        /** FLOP/s of the median step. */
        public double medianFlopsPerSecond() {
            return flopsPerStep / BenchSupport.median(stepSeconds);
        }

        /** FLOP/s of the fastest step. */
        public double bestFlopsPerSecond() {
            return flopsPerStep / BenchSupport.min(stepSeconds);
        }
    }

    static ModelConfig config(Options o) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "llama");
        raw.put("vocab_size", (long) o.vocab());
        raw.put("hidden_size", (long) o.hidden());
        raw.put("num_hidden_layers", (long) o.layers());
        raw.put("num_attention_heads", (long) o.heads());
        raw.put("num_key_value_heads", (long) o.heads());
        raw.put("intermediate_size", (long) o.intermediate());
        raw.put("max_position_embeddings", (long) Math.max(2048, o.seq()));
        raw.put("rms_norm_eps", 1e-6);
        raw.put("rope_theta", 10000.0);
        raw.put("tie_word_embeddings", false);
        raw.put("initializer_range", 0.02);
        raw.put("attention_dropout", 0.0);
        return ModelConfigs.fromMap(raw);
    }

    /** N_mm of the formula: weights that take part in a matrix product. */
    static long matmulParameters(LanguageModel model) {
        long n = 0;
        boolean head = false;
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
            Shape s = e.getValue().getShape();
            if (s.dimension() == 2 && !e.getKey().equals("model.embed_tokens.weight")) {
                n += s.size();
            }
            head |= e.getKey().equals("lm_head.weight");
        }
        if (!head) {
            // tied: the embedding matrix is also the output head
            n += (long) model.config().vocabSize() * model.config().hiddenSize();
        }
        return n;
    }

    /** Runs the benchmark in a run scope of {@code tensors} and prints the report to {@code out}. */
    public static Result run(PrintStream out, TensorService tensors, Options o) {
        o.check();
        HfModelService models = new HfModelService();
        try (NDManager scope = tensors.newRunScope("bench-forward");
             LanguageModel model = models.create(config(o), o.seed(), scope)) {
            long params = 0;
            for (NDArray p : model.parameters().values()) {
                params += p.getShape().size();
            }
            long nmm = matmulParameters(model);
            long tokens = (long) o.batch() * o.seq();
            double dense = 6.0 * nmm * tokens;
            double attention = 12.0 * o.layers() * o.batch() * (double) o.seq() * o.seq() * o.hidden();
            double flops = dense + attention;

            out.printf(Locale.ROOT, "distill bench forward: llama, d %d, %d layers, %d heads, SwiGLU %d, vocab %d, "
                            + "untied head: %s parameters, float32, %s (%s)%n", o.hidden(), o.layers(), o.heads(),
                    o.intermediate(), o.vocab(), BenchSupport.grouped(params), tensors.device(),
                    tensors.engineDescription());
            out.println(BenchSupport.threads(scope));
            out.printf(Locale.ROOT, "step: batch %d x seq %d = %d tokens; forward (training mode) + cross-entropy on "
                    + "random targets + backward into every parameter; no optimizer update%n", o.batch(), o.seq(), tokens);
            out.printf(Locale.ROOT, "FLOPs/step = 6 * N_mm * B * S + 12 * L * B * S^2 * d%n");
            out.printf(Locale.ROOT, "  N_mm (2-D weights in matmuls: q,k,v,o, gate/up/down, output head; "
                    + "embedding lookup excluded) = %s%n", BenchSupport.grouped(nmm));
            out.printf(Locale.ROOT, "  6 * %d * %d = %.3f GFLOP (dense) + 12 * %d * %d * %d^2 * %d = %.3f GFLOP "
                            + "(attention QK^T and PV, full S^2) = %.3f GFLOP/step%n", nmm, tokens, dense / 1e9,
                    o.layers(), o.batch(), o.seq(), o.hidden(), attention / 1e9, flops / 1e9);
            out.println("  not counted: norms, RoPE, SiLU, softmax, loss, additions, data movement");
            out.flush();

            List<Gemm> shapes = new ArrayList<>();
            long n = o.matmulSize();
            shapes.add(new Gemm("square n^3", n, n, n, 0));
            shapes.add(new Gemm("output head x*W^T", tokens, o.hidden(), o.vocab(), 0));
            shapes.add(new Gemm("SwiGLU up x*W^T", tokens, o.hidden(), o.intermediate(), 0));
            double[] before = new double[shapes.size()];
            for (int i = 0; i < shapes.size(); i++) {
                before[i] = gemmRate(scope, shapes.get(i), o.matmulRepeats());
            }

            double[] adjacent = new double[o.steps()];
            double[] seconds = steps(scope, model, o, shapes.get(0), adjacent);

            return report(out, scope, o, shapes, before, adjacent, seconds, params, nmm, flops);
        }
    }

    /**
     * The vision case: a LLaVA model whose language model is {@code o}'s Llama and whose tower is a
     * SigLIP-style ViT.
     *
     * @param imageSize square image side in pixels
     * @param patch patch side (image tokens per sequence: (imageSize / patch)^2, all of them kept)
     * @param hidden tower width d_v
     * @param layers tower layers L_v
     * @param heads tower heads
     * @param mlp tower MLP width
     */
    public record Vision(int imageSize, int patch, int hidden, int layers, int heads, int mlp) {

        /** A SigLIP-S-like tower: 224 pixels in 16-pixel patches (196 tokens), width 384, 6 layers, MLP 1536. */
        public static Vision defaults() {
            return new Vision(224, 16, 384, 6, 6, 1536);
        }

        /** Image tokens per image. */
        public int tokens() {
            int side = imageSize / patch;
            return side * side;
        }

        /** Throws {@link IllegalArgumentException} naming what is out of range. */
        public void check(int seq) {
            if (imageSize <= 0 || patch <= 0 || imageSize % patch != 0 || hidden <= 0 || layers <= 0 || heads <= 0
                    || hidden % heads != 0 || mlp <= 0) {
                throw new IllegalArgumentException("the tower needs positive sizes, an image size divisible by the "
                        + "patch and a width divisible by the heads");
            }
            if (tokens() >= seq) {
                throw new IllegalArgumentException("the sequence of " + seq + " tokens must hold the image's " + tokens()
                        + " tokens and some text");
            }
        }
    }

    static ModelConfig vlmConfig(Options o, Vision v) {
        Map<String, Object> text = new LinkedHashMap<>(ModelConfigs.toMap(config(o)));
        text.remove("architectures");
        Map<String, Object> vision = new LinkedHashMap<>();
        vision.put("model_type", "siglip_vision_model");
        vision.put("hidden_size", (long) v.hidden());
        vision.put("intermediate_size", (long) v.mlp());
        vision.put("num_hidden_layers", (long) v.layers());
        vision.put("num_attention_heads", (long) v.heads());
        vision.put("image_size", (long) v.imageSize());
        vision.put("patch_size", (long) v.patch());
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "llava");
        raw.put("vision_config", vision);
        raw.put("text_config", text);
        raw.put("image_token_index", (long) (o.vocab() - 1));
        raw.put("vision_feature_layer", -1L);
        raw.put("vision_feature_select_strategy", "full");
        return ModelConfigs.fromMap(raw);
    }

    /**
     * {@code distill bench forward --vlm}: achieved FLOP/s of one training step of a LLaVA model on
     * image + text sequences (one image per sequence, its tokens first), the tower frozen and the
     * projector and language model training (LLaVA's fine-tuning), against the fp32 matmul peak of
     * the same command:
     * <pre>
     *   FLOPs = 6 * N_llm * B * S + 12 * L * B * S^2 * d       language model, forward + backward
     *         + 6 * N_proj * B * P                              projector, forward + backward
     *         + 2 * N_tower * B * P + 4 * L_v * B * P^2 * d_v   tower, forward only (frozen)
     * </pre>
     * with P image tokens per sequence, N_llm as {@link #run}, N_proj the projector's two matrices and
     * N_tower the tower's matrices (patch embedding as a matrix, q, k, v, o, the MLP).
     */
    public static Result runVlm(PrintStream out, TensorService tensors, Options o, Vision v) {
        o.check();
        v.check(o.seq());
        HfModelService models = new HfModelService();
        try (NDManager scope = tensors.newRunScope("bench-forward-vlm");
             LanguageModel model = models.create(vlmConfig(o, v), o.seed(), scope)) {
            long params = 0;
            long tower = 0;
            long proj = 0;
            long llm = 0;
            boolean head = false;
            for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                String n = e.getKey();
                Shape s = e.getValue().getShape();
                params += s.size();
                if (n.startsWith("model.vision_tower.")) {
                    if (s.dimension() >= 2 && !n.contains("position_embedding")) {
                        tower += s.size();
                    }
                } else if (n.startsWith("model.multi_modal_projector.")) {
                    proj += s.dimension() == 2 ? s.size() : 0;
                } else if (s.dimension() == 2 && !n.endsWith("embed_tokens.weight")) {
                    llm += s.size();
                }
                head |= n.equals("lm_head.weight");
            }
            if (!head) {
                llm += (long) o.vocab() * o.hidden();
            }
            long b = o.batch();
            long seq = o.seq();
            long p = v.tokens();
            double llmFlops = 6.0 * llm * b * seq + 12.0 * o.layers() * b * (double) seq * seq * o.hidden();
            double projFlops = 6.0 * proj * b * p;
            double towerFlops = 2.0 * tower * b * p + 4.0 * v.layers() * b * (double) p * p * v.hidden();
            double flops = llmFlops + projFlops + towerFlops;
            out.printf(Locale.ROOT, "distill bench forward --vlm: llava, SigLIP-style tower %dpx / %d (%d image tokens), "
                            + "width %d, %d layers, MLP %d; llama d %d, %d layers, vocab %d: %s parameters, float32, %s (%s)%n",
                    v.imageSize(), v.patch(), p, v.hidden(), v.layers(), v.mlp(), o.hidden(), o.layers(), o.vocab(),
                    BenchSupport.grouped(params), tensors.device(), tensors.engineDescription());
            out.println(BenchSupport.threads(scope));
            out.printf(Locale.ROOT, "step: batch %d x seq %d = %d image + %d text tokens each; tower frozen (forward "
                    + "only), projector and language model trained; cross-entropy on random targets + backward; no "
                    + "optimizer update%n", b, seq, p, seq - p);
            out.printf(Locale.ROOT, "FLOPs/step = 6 * N_llm * B * S + 12 * L * B * S^2 * d + 6 * N_proj * B * P "
                    + "+ 2 * N_tower * B * P + 4 * L_v * B * P^2 * d_v%n");
            out.printf(Locale.ROOT, "  language model %.3f GFLOP (N_llm = %s) + projector %.3f GFLOP (N_proj = %s) "
                            + "+ tower %.3f GFLOP (N_tower = %s) = %.3f GFLOP/step%n", llmFlops / 1e9,
                    BenchSupport.grouped(llm), projFlops / 1e9, BenchSupport.grouped(proj), towerFlops / 1e9,
                    BenchSupport.grouped(tower), flops / 1e9);
            out.flush();
            List<Gemm> shapes = new ArrayList<>();
            shapes.add(new Gemm("square n^3", o.matmulSize(), o.matmulSize(), o.matmulSize(), 0));
            shapes.add(new Gemm("output head x*W^T", b * seq, o.hidden(), o.vocab(), 0));
            shapes.add(new Gemm("SwiGLU up x*W^T", b * seq, o.hidden(), o.intermediate(), 0));
            shapes.add(new Gemm("tower MLP x*W^T", b * p, v.hidden(), v.mlp(), 0));
            double[] before = new double[shapes.size()];
            for (int i = 0; i < shapes.size(); i++) {
                before[i] = gemmRate(scope, shapes.get(i), o.matmulRepeats());
            }
            double[] adjacent = new double[o.steps()];
            double[] seconds = vlmSteps(scope, model, o, v, shapes.get(0), adjacent);
            return report(out, scope, o, shapes, before, adjacent, seconds, params, llm + proj + tower, flops);
        }
    }

    private static double[] vlmSteps(NDManager scope, LanguageModel model, Options o, Vision v, Gemm square,
                                     double[] adjacent) {
        String towerPrefix = "model.vision_tower.";
        for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
            e.getValue().setRequiresGradient(!e.getKey().startsWith(towerPrefix));
        }
        double[] seconds = new double[o.steps()];
        int p = v.tokens();
        int image = model.vision().orElseThrow().imageTokenId();
        try {
            for (int i = 0; i < o.warmup() + o.steps(); i++) {
                try (NDManager step = scope.newSubManager()) {
                    NDArray text = step.randomInteger(0, o.vocab() - 1, new Shape(o.batch(), o.seq() - p), DataType.INT64);
                    NDArray ids = step.full(new Shape(o.batch(), p), image, DataType.INT64).concat(text, 1);
                    NDArray pixels = step.randomUniform(-1f, 1f, new Shape(o.batch(), 3, v.imageSize(), v.imageSize()));
                    NDArray targets = step.randomInteger(0, o.vocab(), new Shape(o.batch(), o.seq(), 1), DataType.INT64);
                    long t0 = System.nanoTime();
                    try (GradientCollector gc = step.getEngine().newGradientCollector()) {
                        NDArray logits = model.forward(ids, ForwardOptions.train().withPixelValues(pixels)).logits();
                        NDArray loss = logits.logSoftmax(-1).gather(targets, 2).mean().neg();
                        gc.backward(loss);
                    }
                    NDArray g = model.parameters().get("model.multi_modal_projector.linear_1.weight").getGradient();
                    g.attach(step);
                    g.get(0).get(0).getFloat();
                    double s = (System.nanoTime() - t0) / 1e9;
                    for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                        if (!e.getKey().startsWith(towerPrefix)) {
                            NDArray gr = e.getValue().getGradient();
                            gr.attach(step);
                            gr.muli(0);
                        }
                    }
                    if (i >= o.warmup()) {
                        seconds[i - o.warmup()] = s;
                        adjacent[i - o.warmup()] = gemmRate(scope, square, 2);
                    }
                }
            }
        } finally {
            for (NDArray a : model.parameters().values()) {
                a.setRequiresGradient(false);
            }
        }
        return seconds;
    }

    /** Prints the peaks, the steps and the achieved fraction; shared by the text and vision cases. */
    private static Result report(PrintStream out, NDManager scope, Options o, List<Gemm> shapes, double[] before,
                                 double[] adjacent, double[] seconds, long params, long nmm, double flops) {
        List<Gemm> gemms = new ArrayList<>();
        double peak = 0;
        out.println("fp32 matmul peak (best of " + o.matmulRepeats() + " after a warm-up; before / after the steps):");
        for (int i = 0; i < shapes.size(); i++) {
            Gemm g = shapes.get(i);
            double after = gemmRate(scope, g, o.matmulRepeats());
            double best = Math.max(before[i], after);
            if (i == 0) {
                for (double a : adjacent) {
                    best = Math.max(best, a);
                }
            }
            gemms.add(new Gemm(g.name(), g.m(), g.k(), g.n(), best));
            peak = Math.max(peak, best);
            out.printf(Locale.ROOT, "  %-18s [%d x %d] x [%d x %d]: %8.2f / %8.2f GFLOP/s%n", g.name(), g.m(), g.k(),
                    g.k(), g.n(), before[i] / 1e9, after / 1e9);
        }
        Result r = new Result(params, nmm, flops, seconds, List.copyOf(gemms), peak, adjacent);
        out.printf(Locale.ROOT, "steps (%d timed after %d warm-up):%n", seconds.length, o.warmup());
        for (int i = 0; i < seconds.length; i++) {
            double rate = flops / seconds[i];
            out.printf(Locale.ROOT, "  step %d: %8.3f s %8.2f GFLOP/s; square matmul right after: %8.2f GFLOP/s "
                    + "(step = %5.1f%% of it)%n", i + 1, seconds[i], rate / 1e9, adjacent[i] / 1e9, 100 * rate / adjacent[i]);
        }
        out.printf(Locale.ROOT, "peak: %.2f GFLOP/s (best of all the matmuls above, square ones after the steps "
                + "included)%n", peak / 1e9);
        out.printf(Locale.ROOT, "achieved (median step %.3f s): %.2f GFLOP/s = %.1f%% of peak%n",
                BenchSupport.median(seconds), r.medianFlopsPerSecond() / 1e9, 100 * r.medianFlopsPerSecond() / peak);
        out.printf(Locale.ROOT, "achieved (fastest step %.3f s): %.2f GFLOP/s = %.1f%% of peak%n",
                BenchSupport.min(seconds), r.bestFlopsPerSecond() / 1e9, 100 * r.bestFlopsPerSecond() / peak);
        out.printf(Locale.ROOT, "paired (median over steps of step / square matmul right after it): %.1f%%%n",
                100 * r.medianPairedRatio());
        double ratio = r.medianFlopsPerSecond() / peak;
        out.printf(Locale.ROOT, "goal (>= 50%% of the matmul peak, median step): %s%n", ratio >= 0.5 ? "met" : "NOT met");
        return r;
    }

    /** Times warm-up then timed training steps; returns the seconds of each timed step. */
    private static double[] steps(NDManager scope, LanguageModel model, Options o, Gemm square, double[] adjacent) {
        for (NDArray p : model.parameters().values()) {
            p.setRequiresGradient(true);
        }
        double[] seconds = new double[o.steps()];
        try {
            for (int i = 0; i < o.warmup() + o.steps(); i++) {
                try (NDManager step = scope.newSubManager()) {
                    NDArray ids = step.randomInteger(0, o.vocab(), new Shape(o.batch(), o.seq()), DataType.INT64);
                    NDArray targets = step.randomInteger(0, o.vocab(), new Shape(o.batch(), o.seq(), 1), DataType.INT64);
                    long t0 = System.nanoTime();
                    try (GradientCollector gc = step.getEngine().newGradientCollector()) {
                        NDArray logits = model.forward(ids, ForwardOptions.train()).logits();
                        NDArray loss = logits.logSoftmax(-1).gather(targets, 2).mean().neg();
                        gc.backward(loss);
                    }
                    // one element of the first gradient: waits for the backward on asynchronous devices
                    NDArray g = model.parameters().values().iterator().next().getGradient();
                    g.attach(step);
                    g.get(0).get(0).getFloat();
                    double s = (System.nanoTime() - t0) / 1e9;
                    zero(model, step);
                    if (i >= o.warmup()) {
                        seconds[i - o.warmup()] = s;
                        adjacent[i - o.warmup()] = gemmRate(scope, square, 2);
                    }
                }
            }
        } finally {
            for (NDArray p : model.parameters().values()) {
                p.setRequiresGradient(false);
            }
        }
        return seconds;
    }

    private static void zero(LanguageModel model, NDManager step) {
        for (NDArray p : model.parameters().values()) {
            NDArray g = p.getGradient();
            g.attach(step);
            g.muli(0);
        }
    }

    /** Best FLOP/s of {@code repeats} runs of one GEMM after one untimed run. */
    static double gemmRate(NDManager scope, Gemm g, int repeats) {
        boolean linear = g.name().contains("W^T");
        double best = 0;
        try (NDManager m = scope.newSubManager()) {
            NDArray a = m.randomUniform(-1f, 1f, new Shape(g.m(), g.k()));
            NDArray b = linear ? m.randomUniform(-1f, 1f, new Shape(g.n(), g.k()))
                    : m.randomUniform(-1f, 1f, new Shape(g.k(), g.n()));
            for (int r = 0; r <= repeats; r++) {
                try (NDManager t = m.newSubManager()) {
                    long t0 = System.nanoTime();
                    NDArray c = linear ? Linear.linear(a, b).singletonOrThrow() : a.matMul(b);
                    c.attach(t);
                    // one element: waits for the product on asynchronous devices
                    c.get(0).get(0).getFloat();
                    double s = (System.nanoTime() - t0) / 1e9;
                    if (r > 0) {
                        best = Math.max(best, 2.0 * g.m() * g.k() * g.n() / s);
                    }
                }
            }
        }
        return best;
    }
}
