package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.NextTokenHook;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** Greedy with and without cache, batching, sampling reproducibility, stops, mixed sampling. */
class GenerationTest {

    static final HfModelService SVC = new HfModelService();
    static final Generator GEN = SVC.generator();
    static final List<String> ARCHS = TinyModels.ALL;
    static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    static final List<int[]> PROMPTS = List.of(new int[] {1, 5, 9, 13, 17}, new int[] {1, 40}, new int[] {1, 3, 3});

    private static GenerationOptions greedy(int n, boolean cache) {
        return new GenerationOptions(n, 0f, 0, 1f, Set.of(), 0L, cache);
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void greedyWithAndWithoutCacheAgree(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 21, m)) {
            int before = m.getManagedArrays().size();
            GenerationResult a = GEN.generate(lm, PROMPTS, greedy(10, true), m);
            GenerationResult b = GEN.generate(lm, PROMPTS, greedy(10, false), m);
            assertEquals(before, m.getManagedArrays().size(), "generation leaked arrays");
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(a.tokens().get(i), b.tokens().get(i), arch + " row " + i);
                for (int j = 0; j < a.logProbs().get(i).length; j++) {
                    assertEquals(a.logProbs().get(i)[j], b.logProbs().get(i)[j], 1e-4f);
                    assertTrue(a.logProbs().get(i)[j] <= 0f);
                }
                // batched (left padded) equals generating the prompt alone
                GenerationResult single = GEN.generate(lm, List.of(PROMPTS.get(i)), greedy(10, true), m);
                assertArrayEquals(single.tokens().get(0), a.tokens().get(i), arch + " single row " + i);
            }
        }
    }

    @Test
    void samplingIsReproducibleAndRespectsTopK() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 23, m)) {
            GenerationOptions s1 = new GenerationOptions(12, 1.0f, 0, 1f, Set.of(), 99L, true);
            GenerationResult a = GEN.generate(lm, PROMPTS, s1, m);
            GenerationResult b = GEN.generate(lm, PROMPTS, s1, m);
            GenerationResult noCache = GEN.generate(lm, PROMPTS,
                    new GenerationOptions(12, 1.0f, 0, 1f, Set.of(), 99L, false), m);
            GenerationResult c = GEN.generate(lm, PROMPTS, new GenerationOptions(12, 1.0f, 0, 1f, Set.of(), 100L, true), m);
            boolean anyDiff = false;
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(a.tokens().get(i), b.tokens().get(i));
                assertArrayEquals(a.logProbs().get(i), b.logProbs().get(i));
                assertArrayEquals(a.tokens().get(i), noCache.tokens().get(i));
                anyDiff |= !java.util.Arrays.equals(a.tokens().get(i), c.tokens().get(i));
            }
            assertTrue(anyDiff, "a different seed should give different samples");
            // top-k = 1 is greedy, with log-prob 0 under the filtered distribution
            GenerationResult k1 = GEN.generate(lm, PROMPTS, new GenerationOptions(8, 0.7f, 1, 1f, Set.of(), 5L, true), m);
            GenerationResult g = GEN.generate(lm, PROMPTS, greedy(8, true), m);
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(g.tokens().get(i), k1.tokens().get(i));
                for (float lp : k1.logProbs().get(i)) {
                    assertEquals(0f, lp, 1e-6f);
                }
            }
            // tiny top-p keeps only the argmax, too
            GenerationResult p = GEN.generate(lm, PROMPTS, new GenerationOptions(8, 1f, 0, 1e-6f, Set.of(), 5L, true), m);
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(g.tokens().get(i), p.tokens().get(i));
            }
            // top-k 5 + top-p 0.9: every token is among the 5 most likely
            GenerationResult kp = GEN.generate(lm, PROMPTS, new GenerationOptions(6, 1.3f, 5, 0.9f, Set.of(), 8L, true), m);
            assertEquals(3, kp.tokens().size());
        }
    }

    @Test
    void filterMatchesDefinition() {
        try (NDManager m = base.newSubManager()) {
            NDArray logits = m.create(new float[] {1f, 4f, 2f, 3f, 0f, 3.5f}).reshape(1, 6);
            float[] k = org.distillery.models.generate.HfGenerator.filter(logits, 2, 1f).toFloatArray();
            assertEquals(Float.NEGATIVE_INFINITY, k[0]);
            assertEquals(4f, k[1]);
            assertEquals(3.5f, k[5]);
            assertEquals(Float.NEGATIVE_INFINITY, k[3]);
            // probabilities: softmax of [1,4,2,3,0,3.5]; top-p 0.5 keeps 4 (0.43) and 3.5 (0.26)
            float[] p = org.distillery.models.generate.HfGenerator.filter(logits, 0, 0.5f).toFloatArray();
            assertEquals(2, countFinite(p));
            assertEquals(4f, p[1]);
            assertEquals(3.5f, p[5]);
        }
    }

    private static int countFinite(float[] a) {
        int n = 0;
        for (float v : a) {
            n += Float.isFinite(v) ? 1 : 0;
        }
        return n;
    }

    @Test
    void stopTokensEndSequences() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("gpt2"), 25, m)) {
            GenerationResult g = GEN.generate(lm, PROMPTS, greedy(12, true), m);
            int[] row = g.tokens().get(0);
            int stop = row[3];
            int firstIdx = 0;
            while (row[firstIdx] != stop) {
                firstIdx++;
            }
            GenerationResult s = GEN.generate(lm, PROMPTS, new GenerationOptions(12, 0f, 0, 1f, Set.of(stop), 0L, true), m);
            assertEquals(firstIdx + 1, s.tokens().get(0).length);
            assertEquals(stop, s.tokens().get(0)[firstIdx]);
            assertEquals(s.tokens().get(0).length, s.logProbs().get(0).length);
            for (int[] t : s.tokens()) {
                assertTrue(t.length <= 12);
            }
            // the eos id of config.json (2) always stops
            for (int[] t : GEN.generate(lm, PROMPTS, greedy(30, true), m).tokens()) {
                for (int j = 0; j < t.length - 1; j++) {
                    assertFalse(t[j] == 2);
                }
            }
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void mixedSamplingStepsBothModels(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel student = SVC.create(TinyModels.config(arch), 27, m);
             LanguageModel teacher = SVC.create(TinyModels.config(arch.equals("gpt2") ? "llama" : arch), 28, m)) {
            // a hook that returns the student's distribution reproduces plain greedy decoding
            NextTokenHook studentOnly = (step, s, t) -> s.softmax(-1);
            GenerationResult mixed = GEN.generateMixed(student, teacher, studentOnly, PROMPTS, greedy(6, true), m);
            GenerationResult plain = GEN.generate(student, PROMPTS, greedy(6, true), m);
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(plain.tokens().get(i), mixed.tokens().get(i));
                assertArrayEquals(plain.logProbs().get(i), mixed.logProbs().get(i), 1e-5f);
            }
            // MiniLLM mixture, sampled: reproducible per seed, with and without caches
            NextTokenHook mix = (step, s, t) -> s.softmax(-1).mul(0.8f).add(t.softmax(-1).mul(0.2f));
            GenerationOptions o = new GenerationOptions(6, 1f, 0, 1f, Set.of(), 3L, true);
            GenerationResult a = GEN.generateMixed(student, teacher, mix, PROMPTS, o, m);
            GenerationResult b = GEN.generateMixed(student, teacher, mix, PROMPTS,
                    new GenerationOptions(6, 1f, 0, 1f, Set.of(), 3L, false), m);
            for (int i = 0; i < PROMPTS.size(); i++) {
                assertArrayEquals(a.tokens().get(i), b.tokens().get(i));
            }
        }
    }

    @Test
    void rejectsBadOptions() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 1, m)) {
            assertThrows(IllegalArgumentException.class, () -> GEN.generate(lm, List.of(new int[0]), greedy(3, true), m));
            assertThrows(IllegalArgumentException.class, () -> GEN.generate(lm, List.of(new int[] {64}), greedy(3, true), m));
            assertThrows(IllegalArgumentException.class, () -> GEN.generate(lm, PROMPTS,
                    new GenerationOptions(3, 1f, 0, 0f, Set.of(), 0L, true), m));
            assertEquals(0, GEN.generate(lm, PROMPTS, greedy(0, true), m).tokens().get(0).length);
        }
    }
}
