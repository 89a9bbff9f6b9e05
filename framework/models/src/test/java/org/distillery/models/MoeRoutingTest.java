package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.RoutingOverride;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Router statistics and the three routing overrides the MoE family needs: pick, sample, dense. */
class MoeRoutingTest {

    static final HfModelService SVC = new HfModelService();
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
    @ValueSource(strings = {"mixtral", "qwen2_moe"})
    void overrides(String arch) {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config(arch), 31, m)) {
            NDArray ids = TestSupport.ids(m, new long[][] {{1, 2, 3, 4, 5, 6}, {7, 8, 9, 10, 11, 12}});
            ModelOutput own = lm.forward(ids, ForwardOptions.inference().withRouterLogits());
            boolean renorm = arch.equals("mixtral");
            List<Integer> layers = new ArrayList<>();
            // 1. an override that re-implements the model's own top-k gives the same logits
            RoutingOverride same = (layer, logits, k) -> {
                layers.add(layer);
                NDList top = logits.softmax(-1).topK(k, -1, true, true);
                NDArray w = renorm ? top.get(0).div(top.get(0).sum(new int[] {-1}, true)) : top.get(0);
                return new RoutingOverride.Routing(top.get(1), w);
            };
            ModelOutput o1 = lm.forward(ids, ForwardOptions.inference().withRouting(same).withRouterLogits());
            assertTrue(TestSupport.maxAbsDiff(own.logits(), o1.logits()) < 1e-6f);
            assertEquals(arch.equals("mixtral") ? List.of(0, 1) : List.of(0), layers);
            for (int i = 0; i < own.expertCounts().size(); i++) {
                assertArrayEquals(own.expertCounts().get(i).toLongArray(), o1.expertCounts().get(i).toLongArray());
                assertEquals(12 * 2, own.expertCounts().get(i).sum().getLong());
            }
            // 2. pick: every token to expert 3 with weight 1
            RoutingOverride pick = (layer, logits, k) -> {
                long n = logits.getShape().get(0);
                NDManager mm = logits.getManager();
                return new RoutingOverride.Routing(mm.full(new Shape(n, 1), 3, DataType.INT64), mm.ones(new Shape(n, 1)));
            };
            ModelOutput o2 = lm.forward(ids, ForwardOptions.inference().withRouting(pick).withRouterLogits());
            assertArrayEquals(new long[] {0, 0, 0, 12}, o2.expertCounts().get(0).toLongArray());
            // 3. dense: all experts with their router probabilities
            RoutingOverride dense = (layer, logits, k) -> {
                long n = logits.getShape().get(0);
                long e = logits.getShape().get(1);
                NDArray experts = logits.getManager().arange(0, (int) e, 1, DataType.INT64).reshape(1, e)
                        .repeat(0, n);
                return new RoutingOverride.Routing(experts, logits.softmax(-1));
            };
            ModelOutput o3 = lm.forward(ids, ForwardOptions.inference().withRouting(dense).withRouterLogits());
            assertArrayEquals(new long[] {12, 12, 12, 12}, o3.expertCounts().get(0).toLongArray());
            assertTrue(TestSupport.maxAbsDiff(own.logits(), o3.logits()) > 1e-6f);
            // 4. sample experts from the router distribution (Java RNG, reproducible)
            RoutingOverride sample = (layer, logits, k) -> {
                float[] p = logits.softmax(-1).toFloatArray();
                int n = (int) logits.getShape().get(0);
                int e = (int) logits.getShape().get(1);
                SplittableRandom r = new SplittableRandom(layer);
                long[] idx = new long[n];
                for (int t = 0; t < n; t++) {
                    double u = r.nextDouble();
                    double c = 0;
                    int j = 0;
                    for (; j < e - 1; j++) {
                        c += p[t * e + j];
                        if (u < c) {
                            break;
                        }
                    }
                    idx[t] = j;
                }
                NDManager mm = logits.getManager();
                return new RoutingOverride.Routing(mm.create(idx).reshape(n, 1), mm.ones(new Shape(n, 1)));
            };
            ModelOutput a = lm.forward(ids, ForwardOptions.inference().withRouting(sample));
            ModelOutput b = lm.forward(ids, ForwardOptions.inference().withRouting(sample));
            assertEquals(0f, TestSupport.maxAbsDiff(a.logits(), b.logits()));
        }
    }
}
