package org.distillery.models.generate;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.NextTokenHook;
import org.distillery.models.arch.KvCacheImpl;
import org.distillery.models.arch.TransformerLM;
import org.distillery.models.llava.LlavaModel;

/**
 * Batched decoding with left padding, optional KV caches, greedy / temperature / top-k / top-p,
 * and per-row {@link SplittableRandom}s split from the seed, so results repeat exactly.
 *
 * <p>A model with a vision tower never generates its image token (its logit is set to -inf).
 *
 * <p>Log-probabilities are those of the distribution each token was drawn from: after
 * temperature, top-k and top-p when sampling, the model's plain distribution when greedy, and
 * the hook's distribution in {@link #generateMixed}. Every step's arrays live in a sub-manager
 * of the caller's manager that is closed at the end of the step.
 */
public final class HfGenerator implements Generator {

    @Override
    public GenerationResult generate(LanguageModel model, List<int[]> prompts, GenerationOptions options,
                                     NDManager manager) {
        return run(model, null, null, prompts, null, options, manager);
    }

    /**
     * Generates with images: the prompts hold the images' tokens ({@link LanguageModel#vision()}),
     * {@code pixelValues} their pixels in row-major order. With the KV cache the images are encoded
     * once, in the forward pass over the prompts; without it, in every step's full forward.
     */
    @Override
    public GenerationResult generate(LanguageModel model, List<int[]> prompts, NDArray pixelValues,
                                     GenerationOptions options, NDManager manager) {
        return run(model, null, null, prompts, pixelValues, options, manager);
    }

    @Override
    public GenerationResult generateMixed(LanguageModel student, LanguageModel teacher, NextTokenHook hook,
                                          List<int[]> prompts, GenerationOptions options, NDManager manager) {
        if (teacher == null || hook == null) {
            throw new IllegalArgumentException("generateMixed needs a teacher and a hook");
        }
        return run(student, teacher, hook, prompts, null, options, manager);
    }

    private GenerationResult run(LanguageModel model, LanguageModel teacher, NextTokenHook hook, List<int[]> prompts,
                                 NDArray pixelValues, GenerationOptions o, NDManager manager) {
        validate(prompts, o);
        int b = prompts.size();
        Set<Integer> stops = new LinkedHashSet<>(o.stopTokens() == null ? Set.of() : o.stopTokens());
        stops.addAll(eosIds(model));
        long pad = padId(model);
        List<List<Integer>> toks = new ArrayList<>();
        List<List<Float>> lps = new ArrayList<>();
        SplittableRandom root = new SplittableRandom(o.seed());
        SplittableRandom[] rngs = new SplittableRandom[b];
        for (int i = 0; i < b; i++) {
            toks.add(new ArrayList<>());
            lps.add(new ArrayList<>());
            rngs[i] = root.split();
        }
        boolean[] done = new boolean[b];
        if (o.maxNewTokens() > 0) {
            try (Stepper s = new Stepper(model, prompts, pixelValues, pad, o.maxNewTokens(), o.useCache());
                 Stepper t = teacher == null ? null
                         : new Stepper(teacher, prompts, null, pad, o.maxNewTokens(), o.useCache())) {
                long[] next = null;
                for (int step = 0; step < o.maxNewTokens(); step++) {
                    try (NDManager sm = manager.newSubManager()) {
                        NDArray sl = s.logits(sm, next);
                        NDArray tl = t == null ? null : t.logits(sm, next);
                        Choice c = hook == null ? choose(sl, o, rngs, done) : chooseMixed(step, sl, tl, hook, o, rngs, done);
                        next = new long[b];
                        for (int i = 0; i < b; i++) {
                            if (done[i]) {
                                next[i] = pad;
                                continue;
                            }
                            int tok = (int) c.tokens[i];
                            toks.get(i).add(tok);
                            lps.get(i).add(c.logProbs[i]);
                            next[i] = tok;
                            if (stops.contains(tok)) {
                                done[i] = true;
                            }
                        }
                    }
                    boolean all = true;
                    for (boolean d : done) {
                        all &= d;
                    }
                    if (all) {
                        break;
                    }
                }
            }
        }
        List<int[]> outTokens = new ArrayList<>(b);
        List<float[]> outLps = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            List<Integer> tl = toks.get(i);
            int[] ti = new int[tl.size()];
            float[] li = new float[tl.size()];
            for (int j = 0; j < ti.length; j++) {
                ti[j] = tl.get(j);
                li[j] = lps.get(i).get(j);
            }
            outTokens.add(ti);
            outLps.add(li);
        }
        return new GenerationResult(List.copyOf(outTokens), List.copyOf(outLps));
    }

    private static void validate(List<int[]> prompts, GenerationOptions o) {
        if (prompts == null || prompts.isEmpty()) {
            throw new IllegalArgumentException("no prompts");
        }
        for (int i = 0; i < prompts.size(); i++) {
            if (prompts.get(i) == null || prompts.get(i).length == 0) {
                throw new IllegalArgumentException("prompt " + i + " is empty; start it with a bos token");
            }
        }
        if (o.maxNewTokens() < 0) {
            throw new IllegalArgumentException("max-new-tokens must be >= 0, got " + o.maxNewTokens());
        }
        if (!(o.temperature() >= 0) || Float.isInfinite(o.temperature())) {
            throw new IllegalArgumentException("temperature must be >= 0, got " + o.temperature());
        }
        if (o.topK() < 0) {
            throw new IllegalArgumentException("top-k must be >= 0, got " + o.topK());
        }
        if (!(o.topP() > 0 && o.topP() <= 1)) {
            throw new IllegalArgumentException("top-p must be in (0, 1], got " + o.topP());
        }
    }

    /** Eos ids from {@code config.json} (a LLaVA model's and its language model's) and {@code generation_config.json}. */
    static Set<Integer> eosIds(LanguageModel m) {
        Set<Integer> ids = new LinkedHashSet<>();
        addIds(ids, m.config().raw() == null ? null : m.config().raw().get("eos_token_id"));
        if (m instanceof LlavaModel l) {
            addIds(ids, l.textModel().config().raw().get("eos_token_id"));
            addIds(ids, l.generationConfig().get("eos_token_id"));
        }
        if (m instanceof TransformerLM t) {
            addIds(ids, t.generationConfig().get("eos_token_id"));
        }
        return ids;
    }

    private static void addIds(Set<Integer> ids, Object v) {
        if (v instanceof Number n) {
            ids.add(n.intValue());
        } else if (v instanceof List<?> l) {
            for (Object o : l) {
                if (o instanceof Number n) {
                    ids.add(n.intValue());
                }
            }
        }
    }

    static long padId(LanguageModel m) {
        Map<String, Object> raw = m.config().raw();
        Object p = raw == null ? null : raw.get("pad_token_id");
        if (p == null && m instanceof LlavaModel l) {
            p = l.textModel().config().raw().get("pad_token_id");
        }
        if (p instanceof Number n && n.intValue() >= 0 && n.intValue() < m.config().vocabSize()) {
            return n.longValue();
        }
        for (int e : eosIds(m)) {
            if (e >= 0 && e < m.config().vocabSize()) {
                return e;
            }
        }
        return 0;
    }

    private record Choice(long[] tokens, float[] logProbs) {
    }

    private static Choice choose(NDArray logits, GenerationOptions o, SplittableRandom[] rngs, boolean[] done) {
        int b = (int) logits.getShape().get(0);
        if (o.temperature() == 0f) {
            long[] tok = logits.argMax(-1).toType(DataType.INT64, false).toLongArray();
            float[] lp = gatherRows(logits.logSoftmax(-1), tok);
            return new Choice(tok, lp);
        }
        NDArray x = filter(logits.div(o.temperature()), o.topK(), o.topP());
        float[] probs = x.softmax(-1).toFloatArray();
        int v = (int) x.getShape().get(1);
        long[] tok = new long[b];
        for (int i = 0; i < b; i++) {
            tok[i] = done[i] ? 0 : sample(probs, i * v, v, rngs[i]);
        }
        float[] lp = gatherRows(x.logSoftmax(-1), tok);
        return new Choice(tok, lp);
    }

    private static Choice chooseMixed(int step, NDArray sl, NDArray tl, NextTokenHook hook, GenerationOptions o,
                                      SplittableRandom[] rngs, boolean[] done) {
        NDArray s = sl;
        NDArray t = tl;
        if (o.temperature() > 0) {
            s = filter(sl.div(o.temperature()), o.topK(), o.topP());
            t = filter(tl.div(o.temperature()), o.topK(), o.topP());
        }
        NDArray dist = hook.distribution(step, s, t);
        Shape ds = dist.getShape();
        int b = (int) sl.getShape().get(0);
        if (ds.dimension() != 2 || ds.get(0) != b) {
            throw new IllegalStateException("next-token hook returned shape " + ds + ", expected [" + b + ", vocab]");
        }
        int v = (int) ds.get(1);
        long limit = Math.min(sl.getShape().get(1), tl.getShape().get(1));
        float[] p = dist.toType(DataType.FLOAT32, false).toFloatArray();
        long[] tok = new long[b];
        float[] lp = new float[b];
        for (int i = 0; i < b; i++) {
            if (done[i]) {
                continue;
            }
            double sum = 0;
            int best = 0;
            for (int j = 0; j < v; j++) {
                float pj = p[i * v + j];
                if (!(pj >= 0) || Float.isInfinite(pj)) {
                    throw new IllegalStateException("next-token hook returned an invalid probability " + pj
                            + " at step " + step);
                }
                sum += pj;
                if (pj > p[i * v + best]) {
                    best = j;
                }
            }
            if (!(sum > 0)) {
                throw new IllegalStateException("next-token hook returned an all-zero distribution at step " + step);
            }
            int chosen = o.temperature() == 0f ? best : sample(p, i * v, v, rngs[i]);
            if (chosen >= limit) {
                throw new IllegalStateException("next-token hook chose token " + chosen
                        + " outside the shared vocabulary of " + limit);
            }
            tok[i] = chosen;
            lp[i] = (float) Math.log(p[i * v + chosen] / sum);
        }
        return new Choice(tok, lp);
    }

    /** Draws an index from unnormalised non-negative weights {@code p[off, off + n)}. */
    private static int sample(float[] p, int off, int n, SplittableRandom rng) {
        double sum = 0;
        for (int j = 0; j < n; j++) {
            sum += p[off + j];
        }
        double u = rng.nextDouble() * sum;
        double c = 0;
        int last = -1;
        for (int j = 0; j < n; j++) {
            float pj = p[off + j];
            if (pj > 0) {
                c += pj;
                last = j;
                if (u < c) {
                    return j;
                }
            }
        }
        return Math.max(last, 0);
    }

    private static float[] gatherRows(NDArray values, long[] idx) {
        NDManager m = values.getManager();
        NDArray index = m.create(idx).reshape(idx.length, 1);
        return values.gather(index, 1).toType(DataType.FLOAT32, false).toFloatArray();
    }

    /** Temperature-scaled logits with top-k then top-p (nucleus) filtering, removed entries set to -inf. */
    public static NDArray filter(NDArray logits, int topK, float topP) {
        NDArray x = logits;
        long v = x.getShape().get(1);
        NDManager m = x.getManager();
        NDArray negInf = m.full(x.getShape(), Float.NEGATIVE_INFINITY);
        if (topK > 0 && topK < v) {
            NDArray kth = x.topK(topK, -1, true, true).get(0).get(":, -1:");
            x = NDArrays.where(x.lt(kth), negInf, x);
        }
        if (topP < 1f) {
            NDArray sorted = x.sort(-1);
            NDArray cum = sorted.softmax(-1).cumSum(-1);
            NDArray removed = cum.lte(1f - topP).toType(DataType.INT64, false).sum(new int[] {-1}, true).clip(0, v - 1);
            NDArray threshold = sorted.gather(removed, 1);
            x = NDArrays.where(x.lt(threshold), negInf, x);
        }
        return x;
    }

    /** Feeds one model: the whole sequence each step, or the new token with a KV cache. */
    private static final class Stepper implements AutoCloseable {
        private final LanguageModel model;
        private final NDArray pixelValues;
        private final int imageToken;
        private final boolean useCache;
        private final int b;
        private final long[][] ids;
        private final float[][] mask;
        private int len;
        private KvCache cache;

        Stepper(LanguageModel model, List<int[]> prompts, NDArray pixelValues, long pad, int maxNew, boolean useCache) {
            this.model = model;
            this.pixelValues = pixelValues;
            this.imageToken = model.vision().map(v -> v.imageTokenId()).orElse(-1);
            this.useCache = useCache;
            this.b = prompts.size();
            int maxLen = 0;
            for (int[] p : prompts) {
                maxLen = Math.max(maxLen, p.length);
            }
            ids = new long[b][maxLen + maxNew];
            mask = new float[b][maxLen + maxNew];
            int vocab = model.config().vocabSize();
            for (int i = 0; i < b; i++) {
                int[] p = prompts.get(i);
                int off = maxLen - p.length;
                for (int j = 0; j < off; j++) {
                    ids[i][j] = pad;
                }
                for (int j = 0; j < p.length; j++) {
                    if (p[j] < 0 || p[j] >= vocab) {
                        throw new IllegalArgumentException("prompt " + i + " has token " + p[j]
                                + " outside the vocabulary of " + vocab);
                    }
                    ids[i][off + j] = p[j];
                    mask[i][off + j] = 1f;
                }
            }
            len = maxLen;
        }

        /** Logits [b, vocab] (float32) of the last position after appending {@code next} (if any). */
        NDArray logits(NDManager sm, long[] next) {
            int from = 0;
            if (next != null) {
                for (int i = 0; i < b; i++) {
                    ids[i][len] = next[i];
                    mask[i][len] = 1f;
                }
                len++;
                from = useCache ? len - 1 : 0;
            }
            NDArray input = sm.create(slice(ids, from, len)).reshape(b, len - from);
            NDArray m = sm.create(slice(mask, 0, len)).reshape(b, len);
            ForwardOptions fo = ForwardOptions.inference().withMask(m);
            if (pixelValues != null && from == 0) {
                // the prompt's forward (every step's without a cache) holds the image tokens
                fo = fo.withPixelValues(pixelValues);
            }
            if (useCache) {
                if (cache == null) {
                    cache = model.newCache();
                    if (cache instanceof KvCacheImpl kv) {
                        // prompt plus every new token: the cache allocates once and never regrows
                        kv.reserve(ids[0].length);
                    }
                }
                fo = fo.withCache(cache);
            }
            ModelOutput out = model.forward(input, fo);
            NDArray last = out.logits().get(":, -1, :");
            if (imageToken >= 0) {
                // a model never writes its image token: generated text carries no images
                last = last.duplicate();
                last.set(new ai.djl.ndarray.index.NDIndex(":, {}", imageToken), Float.NEGATIVE_INFINITY);
            }
            return last;
        }

        private long[] slice(long[][] a, int from, int to) {
            long[] r = new long[b * (to - from)];
            for (int i = 0; i < b; i++) {
                System.arraycopy(a[i], from, r, i * (to - from), to - from);
            }
            return r;
        }

        private float[] slice(float[][] a, int from, int to) {
            float[] r = new float[b * (to - from)];
            for (int i = 0; i < b; i++) {
                System.arraycopy(a[i], from, r, i * (to - from), to - from);
            }
            return r;
        }

        @Override
        public void close() {
            if (cache != null) {
                cache.close();
            }
        }
    }
}
