package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/** KV cache equals full forward; left padding; outputs on request; no leaks; gradients flow. */
class ForwardTest {

    static final HfModelService SVC = new HfModelService();
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

    static final long[] SEQ = {3, 17, 5, 9, 44, 2, 61, 30, 7, 7, 12, 50};

    @ParameterizedTest
    @FieldSource("ARCHS")
    void kvCacheMatchesFullForwardAtEveryPosition(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 11, m)) {
            int before = lm.parameters().size();
            NDArray ids = TestSupport.ids(m, new long[][] {SEQ, {9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 63, 62}});
            NDArray full = lm.forward(ids, ForwardOptions.inference()).logits();
            try (KvCache cache = lm.newCache()) {
                // prefill 4 tokens, then 3, then one at a time
                int[] cuts = {0, 4, 7, 8, 9, 10, 11, 12};
                for (int c = 1; c < cuts.length; c++) {
                    try (NDManager step = m.newSubManager()) {
                        NDArray chunk = ids.get(":, " + cuts[c - 1] + ":" + cuts[c]);
                        chunk.attach(step);
                        ModelOutput out = lm.forward(chunk, ForwardOptions.inference().withCache(cache));
                        assertEquals(cuts[c], cache.length());
                        NDArray want = full.get(":, " + cuts[c - 1] + ":" + cuts[c] + ", :");
                        float diff = TestSupport.maxAbsDiff(want, out.logits());
                        assertTrue(diff < 1e-5f, arch + " cached logits at " + cuts[c - 1] + " differ by " + diff);
                    }
                }
            }
            // nothing leaked into the model's manager
            assertEquals(before, ((ai.djl.ndarray.BaseNDManager) modelManager(lm)).getManagedArrays().size());
        }
    }

    private static NDManager modelManager(LanguageModel lm) {
        return ((org.distillery.models.arch.TransformerLM) lm).manager();
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void leftPaddedBatchMatchesSingleSequences(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 13, m)) {
            long[] a = {5, 6, 7, 8, 9, 10, 11};
            long[] b = {40, 41, 42};
            NDArray ids = TestSupport.ids(m, new long[][] {a, {0, 0, 0, 0, 40, 41, 42}});
            NDArray mask = m.create(new long[] {1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1}).reshape(2, 7);
            NDArray batched = lm.forward(ids, ForwardOptions.inference().withMask(mask)).logits();
            NDArray la = lm.forward(TestSupport.ids(m, new long[][] {a}), ForwardOptions.inference()).logits();
            NDArray lb = lm.forward(TestSupport.ids(m, new long[][] {b}), ForwardOptions.inference()).logits();
            assertTrue(TestSupport.maxAbsDiff(la.get(0), batched.get(0)) < 1e-5f);
            float d = TestSupport.maxAbsDiff(lb.get(0), batched.get("1, 4:, :"));
            assertTrue(d < 1e-5f, arch + ": padded row differs by " + d);

            // the same through the cache: prefill with the mask, then decode one token (mask [b, 1])
            try (KvCache cache = lm.newCache()) {
                lm.forward(ids, ForwardOptions.inference().withMask(mask).withCache(cache));
                NDArray next = TestSupport.ids(m, new long[][] {{12}, {43}});
                NDArray stepLogits = lm.forward(next, ForwardOptions.inference().withCache(cache)).logits();
                NDArray fa = lm.forward(TestSupport.ids(m, new long[][] {{5, 6, 7, 8, 9, 10, 11, 12}}),
                        ForwardOptions.inference()).logits();
                NDArray fb = lm.forward(TestSupport.ids(m, new long[][] {{40, 41, 42, 43}}),
                        ForwardOptions.inference()).logits();
                assertTrue(TestSupport.maxAbsDiff(fa.get("0, -1, :"), stepLogits.get("0, 0, :")) < 1e-5f);
                assertTrue(TestSupport.maxAbsDiff(fb.get("0, -1, :"), stepLogits.get("1, 0, :")) < 1e-5f);
            }
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void optionalOutputs(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 17, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{1, 2, 3, 4, 5}, {6, 7, 8, 9, 10}});
            ModelOutput plain = lm.forward(ids, ForwardOptions.inference());
            assertTrue(plain.hiddenStates().isEmpty() && plain.attentions().isEmpty() && plain.routerLogits().isEmpty());
            ModelOutput out = lm.forward(ids, ForwardOptions.inference().withHiddenStates().withAttentions()
                    .withRouterLogits());
            int layers = lm.config().numLayers();
            assertEquals(layers + 1, out.hiddenStates().size());
            assertEquals(new Shape(2, 5, 32), out.hiddenStates().get(0).getShape());
            assertEquals(layers, out.attentions().size());
            NDArray att = out.attentions().get(0);
            assertEquals(new Shape(2, 4, 5, 5), att.getShape());
            // rows sum to one, future positions get zero weight
            assertTrue(TestSupport.maxAbsDiff(att.sum(new int[] {-1}), m.ones(new Shape(2, 4, 5))) < 1e-5f);
            assertEquals(0f, att.get(":, :, 0, 1:").abs().sum().getFloat(), 0f);
            int moeLayers = arch.equals("mixtral") ? 2 : arch.equals("qwen2_moe") ? 1 : 0;
            assertEquals(moeLayers, out.routerLogits().size());
            assertEquals(moeLayers, out.expertCounts().size());
            for (int i = 0; i < moeLayers; i++) {
                assertEquals(new Shape(10, 4), out.routerLogits().get(i).getShape());
                assertEquals(10 * 2, out.expertCounts().get(i).sum().getLong());
            }
            assertTrue(TestSupport.maxAbsDiff(plain.logits(), out.logits()) < 1e-6f);
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void gradientsReachEveryParameter(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 19, m)) {
            for (NDArray p : lm.parameters().values()) {
                p.setRequiresGradient(true);
            }
            NDArray ids = TestSupport.ids(m, new long[][] {{1, 2, 3, 4, 5, 6, 7, 8}, {9, 10, 11, 12, 13, 14, 15, 16}});
            try (GradientCollector gc = base.getEngine().newGradientCollector()) {
                NDArray logits = lm.forward(ids, ForwardOptions.train()).logits();
                NDArray loss = logits.logSoftmax(-1).get(":, :, 3").mean().neg();
                gc.backward(loss);
            }
            int withGrad = 0;
            for (var e : lm.parameters().entrySet()) {
                float g = e.getValue().getGradient().abs().sum().getFloat();
                if (g > 0) {
                    withGrad++;
                }
            }
            // every parameter except unused experts gets a gradient
            assertTrue(withGrad >= lm.parameters().size() - (arch.contains("m") && arch.contains("x") ? 4 : 0)
                    - (arch.equals("qwen2_moe") ? 12 : 0), arch + ": only " + withGrad + " of " + lm.parameters().size());
            for (NDArray p : lm.parameters().values()) {
                p.setRequiresGradient(false);
            }
        }
    }

    @Test
    void rejectsBadInputs() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 1, m);
             LanguageModel other = SVC.create(TinyModels.config("llama"), 2, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{1, 2, 3}});
            assertThrows(IllegalArgumentException.class, () -> lm.forward(m.create(new long[] {1, 2}),
                    ForwardOptions.inference()));
            assertThrows(IllegalArgumentException.class, () -> lm.forward(ids,
                    ForwardOptions.inference().withMask(m.ones(new Shape(1, 5)))));
            try (KvCache c = other.newCache()) {
                IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                        () -> lm.forward(ids, ForwardOptions.inference().withCache(c)));
                assertTrue(e.getMessage().contains("not created by this model"));
            }
        }
    }
}
