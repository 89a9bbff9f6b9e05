package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Gradients must not depend on when the garbage collector runs. DJL's {@code op(Number)} frees
 * its scalar right after the op while autograd keeps it; a GC between forward and backward then
 * made backward read freed memory (the models now use engine-owned scalars, see Scalars).
 */
class GradientUnderGcTest {

    private static Map<String, float[]> gradients(String arch, boolean collectBeforeBackward) {
        Map<String, float[]> out = new TreeMap<>();
        try (NDManager base = NDManager.newBaseManager(); NDManager step = base.newSubManager()) {
            LanguageModel model = new HfModelService().create(TinyModels.config(arch), 3, base);
            model.parameters().values().forEach(p -> p.setRequiresGradient(true));
            NDArray ids = step.create(new long[] {1, 5, 9, 2, 7, 3, 11, 4}, new Shape(2, 4));
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                NDArray logits = model.forward(ids, ForwardOptions.inference()).logits();
                NDArray loss = logits.logSoftmax(-1).get(":, :, 0").sum().neg();
                if (collectBeforeBackward) {
                    churnAndCollect();
                }
                gc.backward(loss);
            }
            model.parameters().forEach((k, v) -> out.put(k, v.getGradient().toFloatArray()));
            model.close();
        }
        return out;
    }

    private static void churnAndCollect() {
        List<ByteBuffer> churn = new ArrayList<>();
        for (int i = 0; i < 4000; i++) {
            churn.add(ByteBuffer.allocateDirect(4).putFloat(0, 1e30f));
        }
        churn.clear();
        System.gc();
        for (int i = 0; i < 4000; i++) {
            ByteBuffer.allocateDirect(4).putFloat(0, -7f);
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"gpt2", "llama"})
    void gradientsAreTheSameWhenTheCollectorRunsBeforeBackward(String arch) {
        Map<String, float[]> quiet = gradients(arch, false);
        for (int trial = 0; trial < 5; trial++) {
            Map<String, float[]> collected = gradients(arch, true);
            for (String name : quiet.keySet()) {
                assertArrayEquals(quiet.get(name), collected.get(name), 1e-6f, arch + " " + name);
            }
        }
    }
}
