package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.FieldSource;

/**
 * The forward pass without the output head: its final hidden states through {@link
 * LanguageModel#outputHead()} are the logits of the full pass bit for bit, for every architecture
 * (tied and untied heads), with left padding and a KV cache; gradients through the head reach the
 * same parameters with the same values.
 */
class HeadlessForwardTest {

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

    @ParameterizedTest
    @FieldSource("ARCHS")
    void headAppliedToFinalHiddenStatesIsTheForwardLogits(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 5, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{3, 17, 5, 9, 44, 2, 61, 30}, {0, 0, 7, 7, 12, 50, 1, 9}});
            NDArray mask = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 1}, new Shape(2, 8));
            ForwardOptions opts = ForwardOptions.inference().withMask(mask).withHiddenStates();
            ModelOutput full = lm.forward(ids, opts);
            ModelOutput headless = lm.forward(ids, opts.withoutHead());
            assertNull(headless.logits());
            assertNull(full.finalHidden());
            assertEquals(new Shape(2, 8, lm.config().hiddenSize()), headless.finalHidden().getShape());
            OutputHead head = lm.outputHead().orElseThrow();
            assertArrayEquals(full.logits().toFloatArray(), head.apply(headless.finalHidden()).toFloatArray(), 0f);
            List<NDArray> states = headless.hiddenStates();
            assertArrayEquals(states.get(states.size() - 1).toFloatArray(), headless.finalHidden().toFloatArray(), 0f);
            String tied = arch.equals("gpt2") ? "transformer.wte.weight" : "model.embed_tokens.weight";
            String headName = lm.parameters().containsKey("lm_head.weight") ? "lm_head.weight" : tied;
            assertSame(lm.parameters().get(headName), head.weight(), "the head is the model's parameter");
        }
    }

    @Test
    void headlessPassExtendsTheCacheLikeTheFullOne() {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 6, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{3, 17, 5, 9, 44, 2}});
            NDArray full = lm.forward(ids, ForwardOptions.inference()).logits();
            try (KvCache cache = lm.newCache()) {
                lm.forward(ids.get(":, 0:4"), ForwardOptions.inference().withCache(cache).withoutHead());
                assertEquals(4, cache.length());
                ModelOutput rest = lm.forward(ids.get(":, 4:6"), ForwardOptions.inference().withCache(cache).withoutHead());
                NDArray logits = lm.outputHead().orElseThrow().apply(rest.finalHidden());
                assertArrayEquals(full.get(":, 4:6, :").toFloatArray(), logits.toFloatArray(), 1e-5f);
            }
        }
    }

    @ParameterizedTest
    @FieldSource("ARCHS")
    void gradientsThroughTheHeadEqualThoseOfTheFullPass(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 7, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{3, 17, 5, 9, 44, 2, 61, 30}});
            lm.parameters().values().forEach(p -> p.setRequiresGradient(true));
            Map<String, float[]> viaLogits = gradients(lm, ids, false);
            Map<String, float[]> viaHead = gradients(lm, ids, true);
            assertEquals(viaLogits.keySet(), viaHead.keySet());
            viaLogits.forEach((name, g) -> assertArrayEquals(g, viaHead.get(name), 1e-6f, name));
            assertNotNull(viaLogits.get(lm.parameters().keySet().iterator().next()));
        }
    }

    /** d Σ logits² / d parameters, the logits taken from the pass or from the head over its hidden states. */
    private static Map<String, float[]> gradients(LanguageModel lm, NDArray ids, boolean headless) {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager step = base.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            gc.zeroGradients();
            ForwardOptions o = ForwardOptions.train();
            ModelOutput r = lm.forward(ids, headless ? o.withoutHead() : o);
            NDArray logits = headless ? lm.outputHead().orElseThrow().apply(r.finalHidden()) : r.logits();
            logits.attach(step);
            gc.backward(logits.square().sum());
            lm.parameters().forEach((name, p) -> out.put(name, p.getGradient().toFloatArray()));
        }
        return out;
    }
}
