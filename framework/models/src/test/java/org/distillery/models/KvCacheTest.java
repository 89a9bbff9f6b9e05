package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.models.arch.KvCacheImpl;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The KV cache writes each step into preallocated room: it grows geometrically (or once, when
 * reserved), and decoding through it gives the logits of the whole sequence run without a cache.
 */
class KvCacheTest {

    static final HfModelService SVC = new HfModelService();
    static final List<String> ARCHS = TinyModels.ALL;

    private static final long[][] PROMPT = {{1, 5, 9, 13, 17}, {1, 40, 2, 7, 3}};
    private static final int STEPS = 20;

    /** Next-token ids of step {@code s} per row, fixed. */
    private static long[] next(int s) {
        return new long[] {2 + (s * 7) % 50, 3 + (s * 11) % 50};
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void growsGeometricallyAndMatchesTheUncachedForward(String arch) {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 5, m);
             KvCache cache = lm.newCache()) {
            List<Long> capacities = new ArrayList<>();
            float worst = decode(m, lm, cache, capacities);
            if (!arch.equals("llama-dynamic")) {
                // dynamic NTK RoPE rescales every position once the sequence outgrows the trained
                // length, so cached keys (rotated when they were new) differ by design there
                assertTrue(worst < 1e-4f, arch + ": cached and uncached logits differ by " + worst);
            }
            assertEquals(PROMPT[0].length + STEPS, cache.length());
            // 5 -> 10 -> 20 -> 40: three regrowths over 20 steps instead of a copy every step
            assertEquals(List.of(5L, 10L, 20L, 40L), capacities.stream().distinct().toList(), arch);
        }
    }

    @Test
    void reservedCacheAllocatesOnce() {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 5, m);
             KvCache cache = lm.newCache()) {
            ((KvCacheImpl) cache).reserve(PROMPT[0].length + STEPS);
            List<Long> capacities = new ArrayList<>();
            float worst = decode(m, lm, cache, capacities);
            assertTrue(worst < 1e-4f, "cached and uncached logits differ by " + worst);
            assertEquals(List.of(25L), capacities.stream().distinct().toList());
        }
    }

    @Test
    void cachedForwardUnderAutogradStillGivesGradients() {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel lm = SVC.create(TinyModels.config("gpt2"), 5, m);
             KvCache cache = lm.newCache()) {
            lm.parameters().values().forEach(p -> p.setRequiresGradient(true));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector();
                 NDManager step = m.newSubManager()) {
                NDArray a = lm.forward(TestSupport.ids(step, PROMPT), ForwardOptions.inference().withCache(cache)).logits();
                NDArray b = lm.forward(step.create(next(0)).reshape(2, 1),
                        ForwardOptions.inference().withCache(cache)).logits();
                gc.backward(a.sum().add(b.sum()));
            }
            NDArray g = lm.parameters().values().iterator().next().getGradient();
            assertTrue(g.abs().sum().getFloat() > 0, "gradients flow through the cached forward");
            assertEquals(PROMPT[0].length + 1, cache.length());
        }
    }

    /** Prompt, then STEPS single tokens through {@code cache}; returns the worst logit gap to the uncached forward. */
    private static float decode(NDManager m, LanguageModel lm, KvCache cache, List<Long> capacities) {
        long[][] seq = {PROMPT[0].clone(), PROMPT[1].clone()};
        float worst = 0;
        try (NDManager step = m.newSubManager()) {
            NDArray logits = lm.forward(TestSupport.ids(step, seq), ForwardOptions.inference().withCache(cache)).logits();
            capacities.add(((KvCacheImpl) cache).capacity());
            worst = Math.max(worst, TestSupport.maxAbsDiff(logits.get(":, -1, :"),
                    lm.forward(TestSupport.ids(step, seq), ForwardOptions.inference()).logits().get(":, -1, :")));
        }
        for (int s = 0; s < STEPS; s++) {
            long[] n = next(s);
            seq = new long[][] {append(seq[0], n[0]), append(seq[1], n[1])};
            try (NDManager step = m.newSubManager()) {
                NDArray input = step.create(n).reshape(2, 1);
                NDArray cached = lm.forward(input, ForwardOptions.inference().withCache(cache)).logits();
                capacities.add(((KvCacheImpl) cache).capacity());
                NDArray full = lm.forward(TestSupport.ids(step, seq), ForwardOptions.inference()).logits();
                worst = Math.max(worst, TestSupport.maxAbsDiff(cached.get(":, -1, :"), full.get(":, -1, :")));
            }
        }
        return worst;
    }

    private static long[] append(long[] a, long x) {
        long[] r = java.util.Arrays.copyOf(a, a.length + 1);
        r[a.length] = x;
        return r;
    }
}
