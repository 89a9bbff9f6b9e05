package org.distillery.moe.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** moe.aggregate on tiny random Mixtral and Qwen2-MoE teachers. */
class AggregateInitializerTest {

    private static LanguageModel aggregate(MoeTestRun run, LanguageModel teacher, String params) throws IOException {
        var f = new AggregateInitializer.Factory();
        return f.create(ConfigFactory.parseString(params).withFallback(
                run.defaults(ContributionKind.MODEL_INITIALIZER, AggregateInitializer.KEY)))
                .initialize(run.initializerContext(), teacher);
    }

    private static float[] param(LanguageModel m, String name) {
        return m.parameters().get(name).toFloatArray();
    }

    /** Σ_e c_e W_e of one mixtral projection, in double. */
    private static float[] combination(LanguageModel t, int layer, String w, double[] c) {
        float[] out = null;
        double[] acc = null;
        for (int e = 0; e < c.length; e++) {
            float[] x = param(t, "model.layers." + layer + ".block_sparse_moe.experts." + e + "." + w + ".weight");
            if (acc == null) {
                acc = new double[x.length];
            }
            for (int i = 0; i < x.length; i++) {
                acc[i] += c[e] * x[i];
            }
        }
        out = new float[acc.length];
        for (int i = 0; i < acc.length; i++) {
            out[i] = (float) acc[i];
        }
        return out;
    }

    @Test
    void averageOfAMixtralGivesAMistralWithCopiedAttention(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            LanguageModel teacher = run.tinyMoe("mixtral", 11);
            Map<String, float[]> teacherBefore = new java.util.LinkedHashMap<>();
            teacher.parameters().forEach((k, v) -> teacherBefore.put(k, v.toFloatArray()));
            LanguageModel student = aggregate(run, teacher, "method = average");
            teacherBefore.forEach((k, v) -> assertArrayEquals(v, param(teacher, k), 0f, "teacher untouched: " + k));
            assertEquals("mistral", student.config().modelType());
            assertEquals(12, student.config().intermediateSize());
            for (String name : student.parameters().keySet()) {
                if (name.contains(".mlp.")) {
                    continue;
                }
                assertArrayEquals(param(teacher, name), param(student, name), 0f, name + " copied bit for bit");
            }
            double[] quarter = {0.25, 0.25, 0.25, 0.25};
            for (int l = 0; l < 2; l++) {
                String p = "model.layers." + l + ".mlp.";
                assertArrayEquals(combination(teacher, l, "w1", quarter), param(student, p + "gate_proj.weight"), 1e-6f);
                assertArrayEquals(combination(teacher, l, "w3", quarter), param(student, p + "up_proj.weight"), 1e-6f);
                assertArrayEquals(combination(teacher, l, "w2", quarter), param(student, p + "down_proj.weight"), 1e-6f);
            }
            assertTrue(student.parameters().keySet().stream().noneMatch(n -> n.contains("gate.weight")),
                    "the router is dropped");
            // written through the model service: a normal Hugging Face folder that loads to the same model
            Path saved = Path.of((String) run.events.stream().filter(e -> "moe.aggregate".equals(e.get("type")))
                    .findFirst().orElseThrow().get("dir"));
            assertTrue(Files.exists(saved.resolve("config.json")) && Files.exists(saved.resolve("tokenizer_config.json")));
            try (NDManager m = run.manager().newSubManager();
                 LanguageModel loaded = run.models().load(saved, DataType.FLOAT32, m)) {
                NDArray ids = m.create(new long[] {1, 5, 9, 200, 3, 7}).reshape(1, 6);
                assertArrayEquals(student.forward(ids, ForwardOptions.inference()).logits().toFloatArray(),
                        loaded.forward(ids, ForwardOptions.inference()).logits().toFloatArray(), 0f);
            }
            // deterministic: a second aggregation gives the same weights
            LanguageModel again = aggregate(run, teacher, "method = average");
            for (String name : student.parameters().keySet()) {
                assertArrayEquals(param(student, name), param(again, name), 0f, name);
            }
        }
    }

    @Test
    void sumFrequencyTopKAndSvdUseTheirCoefficients(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            LanguageModel teacher = run.tinyMoe("mixtral", 12);
            String gate0 = "model.layers.0.mlp.gate_proj.weight";
            String down1 = "model.layers.1.mlp.down_proj.weight";
            LanguageModel sum = aggregate(run, teacher, "method = sum");
            assertArrayEquals(combination(teacher, 0, "w1", new double[] {1, 1, 1, 1}), param(sum, gate0), 1e-5f);

            LanguageModel freq = aggregate(run, teacher, "method = frequency, calibration-records = 10");
            List<List<Long>> counts = calibrationCounts(run);
            for (int l = 0; l < 2; l++) {
                long total = counts.get(l).stream().mapToLong(Long::longValue).sum();
                double[] f = counts.get(l).stream().mapToDouble(c -> c / (double) total).toArray();
                assertArrayEquals(combination(teacher, l, "w2", f), param(freq, "model.layers." + l + ".mlp.down_proj.weight"),
                        1e-5f);
            }
            // the counts are the teacher's own top-2 decisions on the real tokens of the first 10 records
            long realTokens = counts.get(0).stream().mapToLong(Long::longValue).sum() / 2;
            assertTrue(realTokens > 10 * 10, "tokens counted: " + realTokens);

            LanguageModel top = aggregate(run, teacher, "method = top-k, top-k = 2, calibration-records = 10");
            int[] kept = Gathering.mostUsed(counts.get(1).stream().mapToLong(Long::longValue).toArray(), 2);
            double[] c = new double[4];
            c[kept[0]] = 0.5;
            c[kept[1]] = 0.5;
            assertArrayEquals(combination(teacher, 1, "w2", c), param(top, down1), 1e-5f);

            LanguageModel average = aggregate(run, teacher, "method = average");
            LanguageModel svdFull = aggregate(run, teacher, "method = svd, svd-rank = 1000");
            LanguageModel svdLow = aggregate(run, teacher, "method = svd, svd-rank = 2");
            for (String name : average.parameters().keySet()) {
                assertArrayEquals(param(average, name), param(svdFull, name), 1e-5f, "full-rank SVD = plain: " + name);
            }
            float[] low = param(svdLow, gate0);
            float[] avg = param(average, gate0);
            double diff = 0;
            for (int i = 0; i < low.length; i++) {
                diff = Math.max(diff, Math.abs(low[i] - avg[i]));
            }
            assertTrue(diff > 1e-3, "rank 2 of 12 changes the block: " + diff);
        }
    }

    @SuppressWarnings("unchecked")
    private static List<List<Long>> calibrationCounts(MoeTestRun run) {
        Map<String, Object> e = run.events.stream().filter(x -> "moe.calibration".equals(x.get("type")))
                .reduce((a, b) -> b).orElseThrow();
        return new ArrayList<>((List<List<Long>>) e.get("counts"));
    }

    @Test
    void qwenMoeAppendsTheSharedExpertAndPadsDenseLayers(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            LanguageModel teacher = run.tinyMoe("qwen2_moe", 13);
            LanguageModel student = aggregate(run, teacher, "method = average, shared-expert-scale = 0.5");
            assertEquals("qwen2", student.config().modelType());
            // layer 0: 8 gathered units + 6 shared = 14; layer 1 is dense (20 units): width 20, layer 0 zero-padded
            assertEquals(20, student.config().intermediateSize());
            float[] gate0 = param(student, "model.layers.0.mlp.gate_proj.weight");
            float[] shared = param(teacher, "model.layers.0.mlp.shared_expert.gate_proj.weight");
            for (int i = 0; i < shared.length; i++) {
                assertEquals(shared[i], gate0[8 * 16 + i], 0f);
            }
            for (int i = 14 * 16; i < 20 * 16; i++) {
                assertEquals(0f, gate0[i]);
            }
            float[] down0 = param(student, "model.layers.0.mlp.down_proj.weight");
            float[] sharedDown = param(teacher, "model.layers.0.mlp.shared_expert.down_proj.weight");
            assertEquals(0.5f * sharedDown[0], down0[8], 1e-7f);
            assertArrayEquals(param(teacher, "model.layers.1.mlp.up_proj.weight"),
                    param(student, "model.layers.1.mlp.up_proj.weight"), 0f);
            assertArrayEquals(param(teacher, "model.layers.0.self_attn.q_proj.bias"),
                    param(student, "model.layers.0.self_attn.q_proj.bias"), 0f);
            // a narrower student is projected by SVD
            LanguageModel narrow = aggregate(run, teacher, "method = average, intermediate-size = 10");
            assertEquals(10, narrow.config().intermediateSize());
            assertEquals(10L, narrow.parameters().get("model.layers.1.mlp.down_proj.weight").getShape().get(1));
        }
    }

    @Test
    void badInputNamesTheConfigPath(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "data.train-file = \"\"")) {
            LanguageModel teacher = run.tinyMoe("mixtral", 14);
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> aggregate(run, teacher, "method = median"));
            assertEquals("student.initializer.params.method", e.path());
            e = assertThrows(InvalidConfigException.class, () -> aggregate(run, teacher, "method = top-k, top-k = 9"));
            assertEquals("student.initializer.params.top-k", e.path());
            e = assertThrows(InvalidConfigException.class, () -> aggregate(run, teacher, "method = frequency"));
            assertEquals("data.train-file", e.path());
            LanguageModel dense = run.tinyStudent(3);
            e = assertThrows(InvalidConfigException.class, () -> aggregate(run, dense, "method = sum"));
            assertEquals("student.initializer.key", e.path());
        }
    }
}
