package org.distillery.models.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.tensor.TensorService;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;

/**
 * {@code distill bench generate}: greedy decoding throughput of a randomly initialised
 * Llama-style model (default: hidden 384, 6 layers, 6 heads, SwiGLU 1536, vocabulary 8192,
 * untied head, about 20.4M parameters; the exact count is printed), with the KV cache and
 * without it (the whole sequence re-run at every step), at 32, 128 and 512 new tokens.
 *
 * <p>Method: the model is created with {@link HfModelService#create} from a fixed seed; the
 * prompts are {@code promptTokens} fixed random ids per row; decoding is greedy through
 * {@link HfModelService#generator()} with {@link GenerationOptions#useCache()} on or off and no
 * stop token (the config has no eos id), so every row produces exactly the requested tokens.
 * Before any timing, one short generation per mode and batch size warms up the engine. Each
 * figure is the best of {@code repeats} runs; a run's time includes the prompt forward.
 * tokens/s counts generated tokens of all rows ({@code batch * newTokens / seconds}); the
 * speed-up is cached tokens/s over uncached tokens/s, both measured in this call. The cached
 * and uncached runs are interleaved per length, so a change of machine load hits both.
 * The cached and uncached token sequences are compared (greedy decoding must agree).
 */
public final class GenerateBench {

    private GenerateBench() {
    }

    /**
     * What to measure.
     *
     * @param hidden residual width
     * @param layers decoder layers
     * @param heads attention heads (no grouped-query attention)
     * @param intermediate SwiGLU width
     * @param vocab vocabulary size
     * @param lengths new-token counts to measure
     * @param batches batch sizes to measure
     * @param promptTokens prompt length per row
     * @param repeats runs per figure; the best is reported
     * @param seed seed of the weights and the prompts
     */
    public record Options(int hidden, int layers, int heads, int intermediate, int vocab, int[] lengths, int[] batches,
                          int promptTokens, int repeats, long seed) {

        /** The configuration: about 20M parameters, batch 1, 32/128/512 new tokens. */
        public static Options defaults() {
            return new Options(384, 6, 6, 1536, 8192, new int[] {32, 128, 512}, new int[] {1}, 8, 1, 42L);
        }

        /** A copy measuring these lengths. */
        public Options withLengths(int... l) {
            return new Options(hidden, layers, heads, intermediate, vocab, l, batches, promptTokens, repeats, seed);
        }

        /** A copy measuring these batch sizes. */
        public Options withBatches(int... b) {
            return new Options(hidden, layers, heads, intermediate, vocab, lengths, b, promptTokens, repeats, seed);
        }

        /** A copy with another model size. */
        public Options withModel(int h, int l, int nh, int inter, int v) {
            return new Options(h, l, nh, inter, v, lengths, batches, promptTokens, repeats, seed);
        }

        /** A copy taking the best of {@code r} runs per figure. */
        public Options withRepeats(int r) {
            return new Options(hidden, layers, heads, intermediate, vocab, lengths, batches, promptTokens, r, seed);
        }

        /** Throws {@link IllegalArgumentException} naming the option that is out of range. */
        public void check() {
            if (hidden <= 0 || layers <= 0 || heads <= 0 || intermediate <= 0 || vocab <= 1 || promptTokens <= 0
                    || repeats <= 0) {
                throw new IllegalArgumentException("model sizes, prompt tokens and repeats must be positive");
            }
            if (hidden % heads != 0 || (hidden / heads) % 2 != 0) {
                throw new IllegalArgumentException("hidden " + hidden + " must split into " + heads
                        + " heads of even width");
            }
            if (lengths.length == 0 || batches.length == 0) {
                throw new IllegalArgumentException("give at least one length and one batch size");
            }
            for (int l : lengths) {
                if (l <= 0) {
                    throw new IllegalArgumentException("lengths must be positive, got " + l);
                }
            }
            for (int b : batches) {
                if (b <= 0) {
                    throw new IllegalArgumentException("batch sizes must be positive, got " + b);
                }
            }
        }
    }

    /**
     * One measured row.
     *
     * @param batch rows decoded together
     * @param newTokens tokens generated per row
     * @param uncachedTokensPerSecond without the KV cache
     * @param cachedTokensPerSecond with the KV cache
     * @param sameTokens whether both modes produced the same tokens
     */
    public record Row(int batch, int newTokens, double uncachedTokensPerSecond, double cachedTokensPerSecond,
                      boolean sameTokens) {

        /** Cached over uncached throughput. */
        public double speedUp() {
            return cachedTokensPerSecond / uncachedTokensPerSecond;
        }
    }

    /**
     * The figures printed.
     *
     * @param parameters exact parameter count of the model
     * @param rows one per batch size and length
     */
    public record Result(long parameters, List<Row> rows) {
    }

    /** The Llama config the benchmark creates. */
    static ModelConfig config(Options o) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "llama");
        raw.put("vocab_size", (long) o.vocab());
        raw.put("hidden_size", (long) o.hidden());
        raw.put("num_hidden_layers", (long) o.layers());
        raw.put("num_attention_heads", (long) o.heads());
        raw.put("num_key_value_heads", (long) o.heads());
        raw.put("intermediate_size", (long) o.intermediate());
        int maxLen = o.promptTokens() + Arrays.stream(o.lengths()).max().orElse(0);
        raw.put("max_position_embeddings", (long) Math.max(2048, maxLen));
        raw.put("rms_norm_eps", 1e-6);
        raw.put("rope_theta", 10000.0);
        raw.put("tie_word_embeddings", false);
        raw.put("initializer_range", 0.02);
        return ModelConfigs.fromMap(raw);
    }

    /** Runs the benchmark in a run scope of {@code tensors} and prints the report to {@code out}. */
    public static Result run(PrintStream out, TensorService tensors, Options o) {
        o.check();
        HfModelService models = new HfModelService();
        Generator generator = models.generator();
        try (NDManager scope = tensors.newRunScope("bench-generate");
             LanguageModel model = models.create(config(o), o.seed(), scope)) {
            long params = 0;
            for (NDArray p : model.parameters().values()) {
                params += p.getShape().size();
            }
            out.printf(Locale.ROOT, "distill bench generate: llama, hidden %d, %d layers, %d heads, SwiGLU %d, vocab %d, "
                            + "untied head: %s parameters, float32, %s (%s)%n", o.hidden(), o.layers(), o.heads(),
                    o.intermediate(), o.vocab(), BenchSupport.grouped(params), tensors.device(),
                    tensors.engineDescription());
            out.println(BenchSupport.threads(scope));
            out.printf(Locale.ROOT, "greedy decoding, prompt %d tokens, no stop token; tokens/s = batch * new tokens / "
                    + "wall time (prompt forward included); best of %d run(s) after a warm-up%n",
                    o.promptTokens(), o.repeats());

            SplittableRandom rng = new SplittableRandom(o.seed());
            int maxBatch = Arrays.stream(o.batches()).max().getAsInt();
            List<int[]> allPrompts = new ArrayList<>();
            for (int i = 0; i < maxBatch; i++) {
                int[] p = new int[o.promptTokens()];
                for (int j = 0; j < p.length; j++) {
                    p[j] = 1 + rng.nextInt(o.vocab() - 1);
                }
                allPrompts.add(p);
            }
            for (int b : o.batches()) {
                List<int[]> prompts = allPrompts.subList(0, b);
                generate(generator, model, prompts, 8, true, scope);
                generate(generator, model, prompts, 8, false, scope);
            }

            out.printf(Locale.ROOT, "%5s %10s %15s %15s %9s %11s%n", "batch", "new-tokens", "no-cache tok/s",
                    "cache tok/s", "speed-up", "same-tokens");
            List<Row> rows = new ArrayList<>();
            for (int b : o.batches()) {
                List<int[]> prompts = allPrompts.subList(0, b);
                for (int n : o.lengths()) {
                    double bestCached = Double.MAX_VALUE;
                    double bestPlain = Double.MAX_VALUE;
                    boolean same = true;
                    for (int r = 0; r < o.repeats(); r++) {
                        Timed cached = generate(generator, model, prompts, n, true, scope);
                        Timed plain = generate(generator, model, prompts, n, false, scope);
                        bestCached = Math.min(bestCached, cached.seconds);
                        bestPlain = Math.min(bestPlain, plain.seconds);
                        same &= sameTokens(cached.result, plain.result);
                        checkLength(cached.result, n);
                        checkLength(plain.result, n);
                    }
                    Row row = new Row(b, n, (double) b * n / bestPlain, (double) b * n / bestCached, same);
                    rows.add(row);
                    out.printf(Locale.ROOT, "%5d %10d %15.1f %15.1f %8.2fx %11s%n", b, n, row.uncachedTokensPerSecond(),
                            row.cachedTokensPerSecond(), row.speedUp(), same ? "yes" : "NO");
                    out.flush();
                }
            }
            for (Row row : rows) {
                if (row.newTokens() == 512) {
                    out.printf(Locale.ROOT, "goal (>= 10x with the cache at 512 new tokens), batch %d: %.2fx, %s%n",
                            row.batch(), row.speedUp(), row.speedUp() >= 10 ? "met" : "NOT met");
                }
            }
            return new Result(params, List.copyOf(rows));
        }
    }

    private record Timed(double seconds, GenerationResult result) {
    }

    private static Timed generate(Generator g, LanguageModel model, List<int[]> prompts, int n, boolean cache,
                                  NDManager scope) {
        GenerationOptions opts = new GenerationOptions(n, 0f, 0, 1f, Set.of(), 0L, cache);
        try (NDManager m = scope.newSubManager()) {
            long t0 = System.nanoTime();
            GenerationResult r = g.generate(model, prompts, opts, m);
            return new Timed((System.nanoTime() - t0) / 1e9, r);
        }
    }

    private static boolean sameTokens(GenerationResult a, GenerationResult b) {
        for (int i = 0; i < a.tokens().size(); i++) {
            if (!Arrays.equals(a.tokens().get(i), b.tokens().get(i))) {
                return false;
            }
        }
        return true;
    }

    private static void checkLength(GenerationResult r, int n) {
        for (int[] t : r.tokens()) {
            if (t.length != n) {
                throw new IllegalStateException("a row stopped after " + t.length + " of " + n
                        + " tokens; the figures would not be comparable");
            }
        }
    }
}
