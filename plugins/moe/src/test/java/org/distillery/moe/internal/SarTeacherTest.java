package org.distillery.moe.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.TeacherOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Student-Aware Router teacher: what its router step touches, what it returns, what it saves. */
class SarTeacherTest {

    private static SarTeacher open(MoeTestRun run, Path folder, String params) throws IOException {
        return (SarTeacher) new SarTeacher.Factory().open(run.teacherContext(), ConfigFactory.parseString("model-dir = \"" + folder
                + "\"\n" + params).withFallback(run.defaults(ContributionKind.TEACHER, SarTeacher.KEY)));
    }

    private static TokenBatch batch(NDManager m) {
        NDArray ids = m.create(new long[] {257, 72, 105, 33, 10, 50, 257, 9, 8, 7, 6, 0}, new Shape(2, 6));
        NDArray mask = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, new Shape(2, 6));
        NDArray targets = m.create(new long[] {72, 105, 33, 10, 50, 258, 9, 8, 7, 6, 258, 0}, new Shape(2, 6));
        NDArray loss = m.create(new float[] {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, new Shape(2, 6));
        return new TokenBatch(ids, mask, targets, loss, m.zeros(new Shape(2), DataType.INT32));
    }

    private static Map<String, float[]> snapshot(LanguageModel model) {
        Map<String, float[]> out = new LinkedHashMap<>();
        model.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    @Test
    void routerStepChangesOnlyTheRouter(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            Path folder = dir.resolve("teacher");
            run.models().save(run.tinyMoe("mixtral", 31), folder, DataType.FLOAT32);
            LanguageModel student = run.tinyStudent(32);
            student.parameters().values().forEach(p -> p.setRequiresGradient(true));
            Engine.getInstance().setRandomSeed(1);
            try (SarTeacher sar = open(run, folder, "router-lr = 1e-2");
                 NDManager m = run.manager().newSubManager()) {
                assertThrows(IllegalStateException.class, () -> sar.score(batch(m), false, m));
                sar.attachStudent(student);
                LanguageModel teacher = sar.model().orElseThrow();
                Map<String, float[]> before = snapshot(teacher);
                Map<String, float[]> studentBefore = snapshot(student);
                TokenBatch b = batch(m);
                TeacherOutput out = sar.score(b, false, m);
                Map<String, float[]> after = snapshot(teacher);
                assertEquals(List.of("model.layers.0.block_sparse_moe.gate.weight",
                        "model.layers.1.block_sparse_moe.gate.weight"), List.copyOf(sar.routerParameters().keySet()));
                for (String name : before.keySet()) {
                    if (sar.routerParameters().containsKey(name)) {
                        assertFalse(java.util.Arrays.equals(before.get(name), after.get(name)), name + " was trained");
                    } else {
                        assertArrayEquals(before.get(name), after.get(name), 0f, name + " is bitwise unchanged");
                    }
                }
                studentBefore.forEach((k, v) -> assertArrayEquals(v, student.parameters().get(k).toFloatArray(), 0f, k));
                assertTrue(Double.isFinite(sar.lastRouterLoss()));
                // the returned logits are the updated teacher's, with every expert active
                NDArray dense = teacher.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())
                        .withRouting(new DenseRouting())).logits();
                assertArrayEquals(dense.toFloatArray(), out.logits().toFloatArray(), 0f);
                NDArray sparse = teacher.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits();
                assertTrue(sparse.sub(out.logits()).abs().max().getFloat() > 1e-6f, "not the top-2 routing");
                // the router loss falls over a few steps on the same batch
                double first = sar.lastRouterLoss();
                for (int i = 0; i < 5; i++) {
                    sar.score(b, false, m);
                }
                assertTrue(sar.lastRouterLoss() < first, first + " -> " + sar.lastRouterLoss());
            }
        }
    }

    @Test
    void routerAndOptimizerStateSurviveACheckpoint(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            Path folder = dir.resolve("teacher");
            run.models().save(run.tinyMoe("mixtral", 33), folder, DataType.FLOAT32);
            LanguageModel student = run.tinyStudent(34);
            Path ckpt = dir.resolve("ckpt/teacher");
            Map<String, float[]> saved;
            Map<String, float[]> continued;
            try (SarTeacher sar = open(run, folder, "router-lr = 1e-2");
                 NDManager m = run.manager().newSubManager()) {
                sar.attachStudent(student);
                sar.score(batch(m), false, m);
                sar.score(batch(m), false, m);
                sar.saveState(ckpt);
                saved = snapshot(sar.model().orElseThrow());
                sar.score(batch(m), false, m);
                continued = snapshot(sar.model().orElseThrow());
            }
            assertTrue(Files.exists(ckpt.resolve("router.bin")));
            String usage = Files.readString(ckpt.resolve("router-usage.json"));
            assertTrue(usage.contains("\"before\"") && usage.contains("\"after\"") && usage.contains("\"router-steps\": 2"),
                    usage);
            assertEquals(2, run.events.stream().filter(e -> "moe.router-usage".equals(e.get("type"))).count());
            // a fresh teacher restored from the checkpoint has the saved router and takes the same next step
            try (SarTeacher resumed = open(run, folder, "router-lr = 1e-2");
                 NDManager m = run.manager().newSubManager()) {
                resumed.attachStudent(student);
                resumed.restoreState(ckpt);
                Map<String, float[]> restored = snapshot(resumed.model().orElseThrow());
                saved.forEach((k, v) -> assertArrayEquals(v, restored.get(k), 0f, k));
                resumed.score(batch(m), false, m);
                Map<String, float[]> next = snapshot(resumed.model().orElseThrow());
                continued.forEach((k, v) -> assertArrayEquals(v, next.get(k), 1e-7f, k));
            }
            InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> open(run, folder, "router-lr = 0"));
            assertEquals("teacher.params.router-lr", e.path());
            e = assertThrows(InvalidConfigException.class, () -> open(run, dir.resolve("nothing"), ""));
            assertEquals("teacher.params.model-dir", e.path());
        }
    }

    /** Token-mean KL(p_T || q_S) over the loss mask plus {@code coef} times the sum over layers of CV^2 of expert importance. */
    private static double routerObjective(LanguageModel teacher, float[] sl, int vocab, TokenBatch b, double coef) {
        var t = teacher.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())
                .withRouting(new DenseRouting()).withRouterLogits());
        float[] tl = t.logits().toFloatArray();
        float[] lossMask = b.lossMask().toType(DataType.FLOAT32, false).toFloatArray();
        float[] attention = b.attentionMask().toType(DataType.FLOAT32, false).toFloatArray();
        int teacherVocab = (int) t.logits().getShape().get(2);
        double kl = 0;
        double tokens = 0;
        for (int pos = 0; pos < lossMask.length; pos++) {
            double[] logP = logSoftmax(tl, pos * teacherVocab, vocab);
            double[] logQ = logSoftmax(sl, pos * vocab, vocab);
            double k = 0;
            for (int v = 0; v < vocab; v++) {
                k += Math.exp(logP[v]) * (logP[v] - logQ[v]);
            }
            kl += k * lossMask[pos];
            tokens += lossMask[pos];
        }
        double balance = 0;
        for (NDArray layer : t.routerLogits()) {
            int experts = (int) layer.getShape().get(1);
            float[] r = layer.toFloatArray();
            double[] importance = new double[experts];
            for (int tok = 0; tok < attention.length; tok++) {
                double[] p = logSoftmax(r, tok * experts, experts);
                for (int e = 0; e < experts; e++) {
                    importance[e] += Math.exp(p[e]) * attention[tok];
                }
            }
            double mean = java.util.Arrays.stream(importance).average().orElseThrow();
            double var = 0;
            for (double x : importance) {
                var += (x - mean) * (x - mean);
            }
            var /= experts - 1;
            balance += var / (mean * mean + 1e-10);
        }
        return kl / Math.max(1, tokens) + coef * balance;
    }

    private static double[] logSoftmax(float[] z, int from, int n) {
        double max = Double.NEGATIVE_INFINITY;
        for (int i = 0; i < n; i++) {
            max = Math.max(max, z[from + i]);
        }
        double sum = 0;
        for (int i = 0; i < n; i++) {
            sum += Math.exp(z[from + i] - max);
        }
        double[] out = new double[n];
        for (int i = 0; i < n; i++) {
            out[i] = z[from + i] - max - Math.log(sum);
        }
        return out;
    }

    @Test
    void theRouterObjectiveAndItsFirstAdamWStepMatchAHandComputation(@TempDir Path dir) throws Exception {
        double lr = 1e-2;
        double wd = 0.1;
        double coef = 0.5;
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            Path folder = dir.resolve("teacher");
            run.models().save(run.tinyMoe("mixtral", 41), folder, DataType.FLOAT32);
            LanguageModel student = run.tinyStudent(42);
            try (SarTeacher sar = open(run, folder, "router-lr = " + lr + ", router-weight-decay = " + wd
                    + ", router-clip-norm = 0, balance-coef = " + coef);
                 NDManager m = run.manager().newSubManager()) {
                sar.attachStudent(student);
                LanguageModel teacher = sar.model().orElseThrow();
                TokenBatch b = batch(m);
                int vocab = student.config().vocabSize();
                float[] sl = student.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits().toFloatArray();
                double expected = routerObjective(teacher, sl, vocab, b, coef);
                // the gradient of that objective by central differences, at every third element of the router
                Map<String, float[]> before = new LinkedHashMap<>();
                Map<String, double[]> gradient = new LinkedHashMap<>();
                double h = 1e-3;
                for (Map.Entry<String, NDArray> e : sar.routerParameters().entrySet()) {
                    float[] w = e.getValue().toFloatArray();
                    before.put(e.getKey(), w);
                    double[] g = new double[w.length];
                    for (int i = 0; i < w.length; i += 3) {
                        float[] moved = w.clone();
                        moved[i] = (float) (w[i] + h);
                        e.getValue().set(moved);
                        double plus = routerObjective(teacher, sl, vocab, b, coef);
                        moved[i] = (float) (w[i] - h);
                        e.getValue().set(moved);
                        double minus = routerObjective(teacher, sl, vocab, b, coef);
                        g[i] = (plus - minus) / (2 * h);
                    }
                    e.getValue().set(w);
                    gradient.put(e.getKey(), g);
                }
                sar.score(b, false, m);
                assertEquals(expected, sar.lastRouterLoss(), 1e-5 * Math.max(1, Math.abs(expected)),
                        "the router loss is KL(p_T || q_S) over the loss mask plus balance-coef * sum of CV^2");
                assertTrue(expected > 0.01 && coef * 0.1 < expected, "a non-trivial objective: " + expected);
                // AdamW's first step: m/(sqrt(v)+eps) = g/(|g|+eps), so every weight decays by lr*wd and moves by lr
                // against its gradient's sign
                int clear = 0;
                for (Map.Entry<String, NDArray> e : sar.routerParameters().entrySet()) {
                    float[] w0 = before.get(e.getKey());
                    float[] w1 = e.getValue().toFloatArray();
                    double[] g = gradient.get(e.getKey());
                    for (int i = 0; i < w0.length; i++) {
                        double decayed = w0[i] * (1 - lr * wd);
                        double moved = w1[i] - decayed;
                        assertTrue(Math.abs(moved) <= lr * (1 + 1e-4), e.getKey() + "[" + i + "] moved " + moved);
                        if (i % 3 == 0 && Math.abs(g[i]) > 1e-2) {
                            clear++;
                            assertEquals(-lr * Math.signum(g[i]), moved, 1e-6, e.getKey() + "[" + i + "], gradient "
                                    + g[i]);
                        }
                    }
                }
                int all = before.values().stream().mapToInt(a -> a.length).sum();
                assertTrue(clear > all / 6, "most checked weights have a clear gradient: " + clear + " of " + all / 3);
            }
        }
    }
}
