package org.distillery.surgery.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.WeightReader;
import org.distillery.api.model.WeightWriter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The mergers against values computed by hand (in doubles, in this test) tensor by tensor, the folder
 * they write, and their refusals.
 */
class MergersTest {

    @TempDir
    static Path dir;
    private static SurgeryTestRun run;
    private static List<Path> llamas;

    @BeforeAll
    static void models() throws Exception {
        run = new SurgeryTestRun(Files.createDirectories(dir.resolve("run")));
        llamas = new ArrayList<>();
        for (int seed = 1; seed <= 3; seed++) {
            llamas.add(run.model(dir.resolve("llama-" + seed), SurgeryTestRun.config("llama", 2), seed));
        }
    }

    @AfterAll
    static void close() {
        run.close();
    }

    private static void assertClose(double expected, float actual, String what) {
        assertEquals(expected, actual, 1e-6 + 1e-6 * Math.abs(expected), what);
    }

    @Test
    void linearIsTheWeightedSumTensorByTensor() throws Exception {
        Path out = dir.resolve("linear");
        MergeResult r = run.merge(LinearMerger.KEY, "weights = [0.2, 0.5, 0.3]", llamas, out);
        assertEquals(List.of(0.2, 0.5, 0.3), r.weights());
        List<Map<String, float[]>> in = new ArrayList<>();
        for (Path p : llamas) {
            in.add(run.floats(p));
        }
        Map<String, float[]> merged = run.floats(out);
        assertEquals(in.get(0).keySet(), merged.keySet());
        double[] w = {0.2, 0.5, 0.3};
        for (String name : merged.keySet()) {
            float[] m = merged.get(name);
            for (int i = 0; i < m.length; i++) {
                double expected = 0;
                for (int k = 0; k < 3; k++) {
                    expected += w[k] * in.get(k).get(name)[i];
                }
                assertClose(expected, m[i], name + "[" + i + "]");
            }
        }
        for (String f : List.of("config.json", "model.safetensors", "tokenizer_config.json", "merge.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertEquals(Files.readString(llamas.get(0).resolve("config.json")), Files.readString(out.resolve("config.json")));
        String record = Files.readString(out.resolve("merge.json"));
        assertTrue(record.contains("\"method\": \"merge.linear\"") && record.contains("0.5"), record);
        try (NDManager m = run.manager().newSubManager(); LanguageModel lm = run.load(out, m)) {
            NDArray logits = lm.forward(m.create(new long[][] {{257, 5, 9, 40}}), ForwardOptions.inference()).logits();
            assertFalse(Arrays.stream(toDoubles(logits.toFloatArray())).anyMatch(Double::isNaN), "the merge loads and runs");
        }
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".linear")), "no staging left");
        }
        Map<String, float[]> equal = run.floats(run.merge(LinearMerger.KEY, "", llamas.subList(0, 2),
                dir.resolve("soup")).model());
        String any = equal.keySet().iterator().next();
        assertClose(0.5 * in.get(0).get(any)[3] + 0.5 * in.get(1).get(any)[3], equal.get(any)[3], "equal weights");
    }

    private static double[] toDoubles(float[] f) {
        double[] d = new double[f.length];
        for (int i = 0; i < f.length; i++) {
            d[i] = f[i];
        }
        return d;
    }

    @Test
    void integerBuffersComeFromTheFirstModelAndBfloat16IsRoundedOnce() throws Exception {
        // GPT-2 checkpoints carry uint8 causal-mask buffers besides the parameters
        List<Path> gpt2 = new ArrayList<>();
        for (int k = 0; k < 2; k++) {
            Path plain = run.model(dir.resolve("gpt2-plain-" + k), SurgeryTestRun.config("gpt2", 1), 10 + k);
            Path withBuffer = Files.createDirectories(dir.resolve("gpt2-buffer-" + k));
            Files.copy(plain.resolve("config.json"), withBuffer.resolve("config.json"));
            SurgeryTestRun.tokenizer(withBuffer);
            try (NDManager m = run.manager().newSubManager(); WeightReader r = run.models().openWeights(plain)) {
                List<TensorInfo> infos = new ArrayList<>();
                for (TensorInfo t : r.tensors().values()) {
                    infos.add(new TensorInfo(t.name(), DataType.BFLOAT16, t.shape()));
                }
                infos.add(new TensorInfo("transformer.h.0.attn.bias", DataType.UINT8, new Shape(1, 1, 2, 2)));
                try (WeightWriter w = run.models().writeWeights(withBuffer.resolve("model.safetensors"), infos)) {
                    for (TensorInfo t : infos.subList(0, infos.size() - 1)) {
                        w.write(t.name(), r.read(t.name(), m, DataType.FLOAT32));
                    }
                    w.writeBytes("transformer.h.0.attn.bias", ByteBuffer.wrap(new byte[] {1, 0, (byte) (k + 1), 1}));
                    w.finish();
                }
            }
            gpt2.add(withBuffer);
        }
        Path out = dir.resolve("gpt2-merged");
        run.merge(LinearMerger.KEY, "weights = [0.25, 0.75]", gpt2, out);
        try (NDManager m = run.manager().newSubManager(); WeightReader merged = run.models().openWeights(out);
             WeightReader a = run.models().openWeights(gpt2.get(0)); WeightReader b = run.models().openWeights(gpt2.get(1))) {
            assertEquals(a.bytes("transformer.h.0.attn.bias"), merged.bytes("transformer.h.0.attn.bias"));
            TensorInfo wte = merged.tensors().get("transformer.wte.weight");
            assertEquals(DataType.BFLOAT16, wte.dataType(), "the first model's types");
            float[] x = a.read(wte.name(), m, null).toFloatArray();
            float[] y = b.read(wte.name(), m, null).toFloatArray();
            float[] z = merged.read(wte.name(), m, null).toFloatArray();
            for (int i = 0; i < z.length; i++) {
                float sum = 0.25f * x[i] + 0.75f * y[i];
                float rounded = Float.intBitsToFloat((org.distillery.models.io.SafeTensors.bf16Bits(sum) & 0xFFFF) << 16);
                assertEquals(rounded, z[i], Math.ulp(rounded), "wte[" + i + "]");
            }
            try (LanguageModel lm = run.load(out, m)) {
                assertEquals(1, lm.config().numLayers(), "the buffer is tolerated on load");
            }
        }
    }

    @Test
    void slerpMatchesTheSphericalFormula() throws Exception {
        Path out = dir.resolve("slerp");
        MergeResult r = run.merge(SlerpMerger.KEY, "t = 0.3", llamas.subList(0, 2), out);
        assertEquals(List.of(0.7, 0.3), r.weights());
        Map<String, float[]> a = run.floats(llamas.get(0));
        Map<String, float[]> b = run.floats(llamas.get(1));
        Map<String, float[]> merged = run.floats(out);
        int spherical = 0;
        for (String name : merged.keySet()) {
            float[] v0 = a.get(name);
            float[] v1 = b.get(name);
            double dot = 0;
            double n0 = 0;
            double n1 = 0;
            for (int i = 0; i < v0.length; i++) {
                dot += (double) v0[i] * v1[i];
                n0 += (double) v0[i] * v0[i];
                n1 += (double) v1[i] * v1[i];
            }
            double s0 = 0.7;
            double s1 = 0.3;
            double cos = dot / Math.sqrt(n0 * n1);
            if (n0 > 0 && n1 > 0 && Math.abs(cos) <= 0.9995) {
                double omega = Math.acos(cos);
                s0 = Math.sin(0.7 * omega) / Math.sin(omega);
                s1 = Math.sin(0.3 * omega) / Math.sin(omega);
                spherical++;
            }
            for (int i = 0; i < v0.length; i++) {
                assertClose(s0 * v0[i] + s1 * v1[i], merged.get(name)[i], name + "[" + i + "]");
            }
        }
        assertTrue(spherical > 5, "most random tensors are far from parallel: " + spherical);
        // norm weights are all ones in both models: parallel, so interpolated linearly
        assertTrue(merged.keySet().stream().anyMatch(n -> n.endsWith("norm.weight")));
        assertEquals(1f, merged.get("model.norm.weight")[0], 1e-6f);
        // the hand value of two orthogonal unit vectors at t = 0.5: both coefficients sin(pi/4)/sin(pi/2)
        try (NDManager m = run.manager().newSubManager()) {
            double[] c = SlerpMerger.coefficients(m.create(new float[] {1, 0}), m.create(new float[] {0, 1}), 0.5,
                    0.9995);
            assertEquals(Math.sqrt(0.5), c[0], 1e-12);
            assertEquals(Math.sqrt(0.5), c[1], 1e-12);
        }
    }

    @Test
    void tiesTrimsElectsAndAveragesTheAgreeingTaskVectors() throws Exception {
        Path out = dir.resolve("ties");
        MergeResult r = run.merge(TiesMerger.KEY, "density = 0.5, weights = [1.0, 2.0], lambda = 0.8", llamas, out);
        assertEquals(List.of(1.0, 1.0, 2.0), r.weights());
        Map<String, float[]> base = run.floats(llamas.get(0));
        Map<String, float[]> x = run.floats(llamas.get(1));
        Map<String, float[]> y = run.floats(llamas.get(2));
        Map<String, float[]> merged = run.floats(out);
        for (String name : merged.keySet()) {
            float[] b = base.get(name);
            double[] t1 = trimmed(b, x.get(name), 0.5);
            double[] t2 = trimmed(b, y.get(name), 0.5);
            for (int i = 0; i < b.length; i++) {
                double elected = Math.signum(1.0 * t1[i] + 2.0 * t2[i]);
                double num = 0;
                double den = 0;
                if (t1[i] != 0 && Math.signum(t1[i]) == elected) {
                    num += 1.0 * t1[i];
                    den += 1.0;
                }
                if (t2[i] != 0 && Math.signum(t2[i]) == elected) {
                    num += 2.0 * t2[i];
                    den += 2.0;
                }
                double expected = b[i] + 0.8 * (den == 0 ? 0 : num / den);
                assertClose(expected, merged.get(name)[i], name + "[" + i + "]");
            }
        }
        // the hand value: base 0, tasks [3, -1, 0.5, -2] and [1.5, -4, -0.2, 1]; density 0.5 keeps the two
        // largest magnitudes: [3, 0, 0, -2] and [1.5, -4, 0, 0]; elected signs of the sums [4.5, -4, 0, -2]:
        // + - (none) -; entry 0: both agree, (3 + 1.5) / 2 = 2.25; entry 1: -4; entry 2: 0; entry 3: -2
        try (NDManager m = run.manager().newSubManager()) {
            NDArray a = TiesMerger.trim(m.create(new float[] {3, -1, 0.5f, -2}), 0.5);
            NDArray c = TiesMerger.trim(m.create(new float[] {1.5f, -4, -0.2f, 1}), 0.5);
            assertArrayEquals(new float[] {3, 0, 0, -2}, a.toFloatArray(), 0f);
            assertArrayEquals(new float[] {1.5f, -4, 0, 0}, c.toFloatArray(), 0f);
            assertArrayEquals(new float[] {2.25f, -4, 0, -2}, TiesMerger.disjointMerge(List.of(a, c),
                    List.of(1.0, 1.0)).toFloatArray(), 0f);
        }
    }

    /** θ_i − θ_0 with all but its ⌈density · n⌉ largest magnitudes zeroed. */
    private static double[] trimmed(float[] base, float[] model, double density) {
        double[] tau = new double[base.length];
        for (int i = 0; i < base.length; i++) {
            tau[i] = (float) (model[i] - base[i]);
        }
        int keep = (int) Math.ceil(density * tau.length);
        double[] sorted = Arrays.stream(tau).map(Math::abs).sorted().toArray();
        double threshold = sorted[tau.length - keep];
        for (int i = 0; i < tau.length; i++) {
            if (Math.abs(tau[i]) < threshold) {
                tau[i] = 0;
            }
        }
        return tau;
    }

    @Test
    void mismatchedModelsAreRefusedBeforeAnythingIsWritten() throws Exception {
        Path wide = run.model(dir.resolve("llama-wide"), withHidden(SurgeryTestRun.config("llama", 2)), 4);
        Path out = dir.resolve("refused");
        InvalidConfigException shape = assertThrows(InvalidConfigException.class,
                () -> run.merge(LinearMerger.KEY, "", List.of(llamas.get(0), wide), out));
        assertEquals("models[1]", shape.path());
        assertTrue(shape.getMessage().matches("models\\[1\\]: tensor '[a-z_.]+' has shape \\[259, 32\\] in .*llama-wide "
                + "but \\[259, 16\\] in .*llama-1 .*"), shape.getMessage());
        Path gpt2 = run.model(dir.resolve("gpt2-other"), SurgeryTestRun.config("gpt2", 2), 4);
        InvalidConfigException arch = assertThrows(InvalidConfigException.class,
                () -> run.merge(LinearMerger.KEY, "", List.of(llamas.get(0), gpt2), out));
        assertTrue(arch.getMessage().contains("is a gpt2 model but") && arch.getMessage().contains("llama"),
                arch.getMessage());
        InvalidConfigException weights = assertThrows(InvalidConfigException.class,
                () -> run.merge(LinearMerger.KEY, "weights = [1]", llamas.subList(0, 2), out));
        assertEquals("merger.params.weights", weights.path());
        assertThrows(InvalidConfigException.class, () -> run.merge(SlerpMerger.KEY, "", llamas, out));
        assertFalse(Files.exists(out), "nothing written");
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".refused")), "no staging left");
        }
    }

    private static Map<String, Object> withHidden(Map<String, Object> config) {
        config.put("hidden_size", 32);
        config.put("num_attention_heads", 4);
        return config;
    }
}
