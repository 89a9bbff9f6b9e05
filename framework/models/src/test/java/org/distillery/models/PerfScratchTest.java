package org.distillery.models;

import java.util.*;
import ai.djl.ndarray.*;
import org.distillery.api.model.*;
import org.junit.jupiter.api.Test;

class PerfScratchTest {
    @Test
    void perf() {
        HfModelService svc = new HfModelService();
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "llama"); raw.put("vocab_size", 4096L); raw.put("hidden_size", 512L);
        raw.put("num_hidden_layers", 6L); raw.put("num_attention_heads", 8L); raw.put("num_key_value_heads", 8L);
        raw.put("intermediate_size", 1376L); raw.put("max_position_embeddings", 1024L);
        try (NDManager m = NDManager.newBaseManager()) {
            long t0 = System.nanoTime();
            try (LanguageModel lm = svc.create(ModelConfigs.fromMap(raw), 1, m)) {
                System.out.println("PERF create " + (System.nanoTime() - t0) / 1e6 + " ms params=" + ((org.distillery.models.arch.TransformerLM) lm).numParameters());
                try (KvCache c = lm.newCache(); NDManager sm = m.newSubManager()) {
                    lm.forward(sm.create(new long[128]).reshape(1, 128), ForwardOptions.inference().withCache(c));
                    for (int rep = 0; rep < 2; rep++) {
                        long s = System.nanoTime();
                        for (int i = 0; i < 50; i++) {
                            try (NDManager st = m.newSubManager()) {
                                lm.forward(st.create(new long[] {5}).reshape(1, 1), ForwardOptions.inference().withCache(c)).logits().toFloatArray();
                            }
                        }
                        System.out.printf("PERF forward step %.2f ms%n", (System.nanoTime() - s) / 1e6 / 50);
                    }
                    NDArray x = sm.randomNormal(new ai.djl.ndarray.types.Shape(1, 512));
                    NDArray w1 = sm.randomNormal(new ai.djl.ndarray.types.Shape(512, 512));
                    long s = System.nanoTime();
                    for (int i = 0; i < 1000; i++) {
                        try (NDArray y = x.matMul(w1)) { }
                    }
                    System.out.printf("PERF one small matmul %.3f ms%n", (System.nanoTime() - s) / 1e6 / 1000);
                    s = System.nanoTime();
                    for (int i = 0; i < 1000; i++) {
                        try (NDArray y = x.add(1f)) { }
                    }
                    System.out.printf("PERF one tiny op %.3f ms%n", (System.nanoTime() - s) / 1e6 / 1000);
                }
                List<int[]> prompts = List.of(new int[] {1, 2, 3, 4});
                for (int n : new int[] {32, 128, 256}) {
                    for (boolean cache : new boolean[] {true, false}) {
                        long s = System.nanoTime();
                        GenerationResult r = svc.generator().generate(lm, prompts, new GenerationOptions(n, 0f, 0, 1f, Set.of(), 0L, cache), m);
                        double sec = (System.nanoTime() - s) / 1e9;
                        System.out.printf("PERF n=%d cache=%b %.1f tok/s%n", n, cache, r.tokens().get(0).length / sec);
                    }
                }
            }
        }
    }
}
