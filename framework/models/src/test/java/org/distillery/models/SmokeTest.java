package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.junit.jupiter.api.Test;

class SmokeTest {
    @Test
    void forwardAll() {
        HfModelService svc = new HfModelService();
        try (NDManager m = NDManager.newBaseManager()) {
            for (String name : TinyModels.ALL) {
                try (LanguageModel lm = svc.create(TinyModels.config(name), 1, m);
                     NDManager sub = m.newSubManager()) {
                    NDArray ids = sub.create(new long[] {1, 5, 7, 9, 3, 4}).reshape(2, 3);
                    ModelOutput out = lm.forward(ids, ForwardOptions.inference().withHiddenStates().withAttentions().withRouterLogits());
                    assertEquals(new Shape(2, 3, 64), out.logits().getShape());
                    System.out.println(name + " " + out.logits().get("0,0,:4") + " hs=" + out.hiddenStates().size()
                        + " att=" + out.attentions().size() + " router=" + out.routerLogits().size() + " mgr=" + m);
                }
            }
        }
    }
}
