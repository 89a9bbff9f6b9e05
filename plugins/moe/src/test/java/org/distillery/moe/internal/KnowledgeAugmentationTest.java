package org.distillery.moe.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.RoutingOverride;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Knowledge Augmentation: the sampled routing, the M-pass teacher and the averaged loss. */
class KnowledgeAugmentationTest {

    @Test
    void samplingDrawsKDistinctExpertsPerTokenFromTheRouter() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(3);
            int n = 4000;
            float[] row = {2.0f, 1.0f, 0.0f, -1.0f};
            float[] logits = new float[n * 4];
            for (int i = 0; i < n; i++) {
                System.arraycopy(row, 0, logits, i * 4, 4);
            }
            NDArray h = m.create(logits, new Shape(n, 4));
            RoutingOverride.Routing r = new SampledRouting(3, 0, 1.0, true).route(0, h, 2);
            long[] experts = r.experts().toType(DataType.INT64, false).toLongArray();
            float[] weights = r.weights().toFloatArray();
            double[] p = softmax(row);
            for (int t = 0; t < n; t++) {
                Set<Long> distinct = new HashSet<>();
                double sum = 0;
                double mass = 0;
                for (int j = 0; j < 3; j++) {
                    long e = experts[t * 3 + j];
                    assertTrue(e >= 0 && e < 4);
                    distinct.add(e);
                    sum += weights[t * 3 + j];
                    mass += p[(int) e];
                }
                assertEquals(3, distinct.size(), "token " + t + " has 3 distinct experts");
                assertEquals(1.0, sum, 1e-5, "renormalised like the model's own top-k");
                assertEquals(p[(int) experts[t * 3]] / mass, weights[t * 3], 1e-5);
            }
            // k' = 1 draws an expert with the router's probabilities
            long[] one = new SampledRouting(1, 0, 1.0, true).route(0, h, 2).experts().toType(DataType.INT64, false)
                    .toLongArray();
            double[] freq = new double[4];
            for (long e : one) {
                freq[(int) e] += 1.0 / n;
            }
            for (int e = 0; e < 4; e++) {
                assertEquals(p[e], freq[e], 0.03, "expert " + e);
            }
            // s = 0: the deterministic top-k' (the raised number, as the reference), or the model's own
            // top-k when the deterministic width is set to it
            RoutingOverride.Routing raised = new SampledRouting(3, 0, 0.0, true).route(0, h, 2);
            assertEquals(new Shape(n, 3), raised.experts().getShape());
            assertArrayEquals(new long[] {0, 1, 2}, raised.experts().get("0").toType(DataType.INT64, false).toLongArray());
            RoutingOverride.Routing fixed = new SampledRouting(3, 2, 0.0, true).route(0, h, 2);
            assertEquals(new Shape(n, 2), fixed.experts().getShape());
            assertArrayEquals(new long[] {0, 1}, fixed.experts().get("0").toType(DataType.INT64, false).toLongArray());
            // hybrid: about half the tokens sampled (k' = 1 padded to 2 slots), the rest the native top-2
            RoutingOverride.Routing hybrid = new SampledRouting(1, 2, 0.5, true).route(0, h, 2);
            float[] hw = hybrid.weights().toFloatArray();
            int sampled = 0;
            for (int t = 0; t < n; t++) {
                if (hw[t * 2 + 1] == 0f) {
                    sampled++;
                }
            }
            assertEquals(0.5, sampled / (double) n, 0.05);
        }
    }

    @Test
    void hybridRoutingGoesThroughTheTopKPrimeExpertsWhereTheCoinSaysDeterministic() {
        try (NDManager m = NDManager.newBaseManager()) {
            Engine.getInstance().setRandomSeed(11);
            // 8 experts, k' = 7 (the reference's 3.5B-2_8 runs), four tokens with different routers
            float[][] rows = {
                {3f, 2f, 1f, 0f, -1f, -2f, -3f, -4f},
                {-4f, -3f, -2f, -1f, 0f, 1f, 2f, 3f},
                {0f, 5f, 0.5f, 4f, 1f, 3f, 1.5f, 2f},
                {1f, 1.1f, 1.2f, 1.3f, 1.4f, 1.5f, 1.6f, -9f}};
            float[] flat = new float[rows.length * 8];
            for (int t = 0; t < rows.length; t++) {
                System.arraycopy(rows[t], 0, flat, t * 8, 8);
            }
            NDArray h = m.create(flat, new Shape(rows.length, 8));
            SampledRouting routing = new SampledRouting(7, 0, 0.05, true);
            RoutingOverride.Routing sampled = new SampledRouting(7, 0, 1.0, true).route(0, h, 2);
            RoutingOverride.Routing fixed = routing.deterministic(h.softmax(-1), 7);
            // the coin: tokens 0 and 2 sampled, 1 and 3 deterministic
            NDArray coin = m.create(new boolean[] {true, false, true, false}, new Shape(rows.length, 1));
            RoutingOverride.Routing r = SampledRouting.combine(sampled, fixed, coin);
            long[] experts = r.experts().toType(DataType.INT64, false).toLongArray();
            float[] weights = r.weights().toFloatArray();
            long[] sampledExperts = sampled.experts().toType(DataType.INT64, false).toLongArray();
            for (int t = 0; t < rows.length; t++) {
                double[] p = softmax(rows[t]);
                Integer[] order = {0, 1, 2, 3, 4, 5, 6, 7};
                int row = t;
                java.util.Arrays.sort(order, (a, b) -> Float.compare(rows[row][b], rows[row][a]));
                double mass = 0;
                for (int j = 0; j < 7; j++) {
                    mass += p[order[j]];
                }
                for (int j = 0; j < 7; j++) {
                    if (t % 2 == 1) {
                        // deterministic: the 7 most likely experts in order, weights renormalised over them
                        assertEquals((long) order[j], experts[t * 7 + j], "token " + t + " slot " + j);
                        assertEquals(p[order[j]] / mass, weights[t * 7 + j], 1e-5);
                    } else {
                        assertEquals(sampledExperts[t * 7 + j], experts[t * 7 + j], "token " + t + " slot " + j);
                    }
                }
            }
            // through route(): every token routes through 7 experts (never the native 2)
            assertEquals(new Shape(rows.length, 7), routing.route(0, h, 2).experts().getShape());
        }
    }

    private static double[] softmax(float[] x) {
        double z = 0;
        double[] p = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            p[i] = Math.exp(x[i]);
            z += p[i];
        }
        for (int i = 0; i < x.length; i++) {
            p[i] /= z;
        }
        return p;
    }

    private static TokenBatch batch(NDManager m) {
        NDArray ids = m.create(new long[] {257, 72, 105, 33, 10, 50, 257, 9, 8, 7, 6, 5}, new Shape(2, 6));
        NDArray mask = m.ones(new Shape(2, 6));
        NDArray targets = m.create(new long[] {72, 105, 33, 10, 50, 258, 9, 8, 7, 6, 5, 258}, new Shape(2, 6));
        NDArray loss = m.create(new float[] {0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 0}, new Shape(2, 6));
        return new TokenBatch(ids, mask, targets, loss, m.zeros(new Shape(2), DataType.INT32));
    }

    private static Teacher openKa(MoeTestRun run, Path dir, String params) throws IOException {
        Config p = ConfigFactory.parseString("model-dir = \"" + dir + "\"\n" + params)
                .withFallback(run.defaults(ContributionKind.TEACHER, KaTeacher.KEY));
        return new KaTeacher.Factory().open(run.teacherContext(), p);
    }

    private static Loss loss(MoeTestRun run, String key, String params) {
        var c = run.registry().find(ContributionKind.LOSS, key, LossFactory.class).orElseThrow();
        return c.factory().create(run.lossContext(), ConfigFactory.parseString(params).withFallback(c.defaults()));
    }

    /** The loss value and its gradient with respect to the student logits. */
    private static float[][] valueAndGradient(Loss loss, TokenBatch b, float[] student, TeacherOutput teacher,
                                              NDManager m) {
        NDArray s = m.create(student, new Shape(2, 6, MoeTestRun.VOCAB));
        s.setRequiresGradient(true);
        try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            LossValue v = loss.compute(new LossInput(b, s, List.of(), teacher, List.of(), m));
            gc.backward(v.sum());
            return new float[][] {{v.sum().getFloat(), v.count()}, s.getGradient().toFloatArray()};
        }
    }

    @Test
    void kaWithOneSampleAndNoSamplingIsPlainKd(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            LanguageModel moe = run.tinyMoe("mixtral", 21);
            Path folder = dir.resolve("teacher");
            run.models().save(moe, folder, DataType.FLOAT32);
            try (NDManager m = run.manager().newSubManager();
                 Teacher ka = openKa(run, folder, "samples = 1, sampling-prob = 0.0")) {
                TokenBatch b = batch(m);
                TeacherOutput plain = new TeacherOutput(moe.forward(b.inputIds(),
                        ForwardOptions.inference().withMask(b.attentionMask())).logits(), null, null, null, List.of());
                TeacherOutput sampled = ka.score(b, false, m);
                assertEquals(1, sampled.logitSamples().size());
                assertArrayEquals(plain.logits().toFloatArray(), sampled.logits().toFloatArray(), 0f);
                float[] student = m.randomNormal(new Shape(2, 6, MoeTestRun.VOCAB)).toFloatArray();
                for (String divergence : new String[] {"kd.forward-kl", "kd.reverse-kl"}) {
                    float[][] kd = valueAndGradient(loss(run, divergence, ""), b, student, plain, m);
                    float[][] kaLoss = valueAndGradient(loss(run, KaLoss.KEY, "divergence = " + divergence), b, student,
                            sampled, m);
                    assertArrayEquals(kd[0], kaLoss[0], 0f, divergence + ": value and count");
                    assertArrayEquals(kd[1], kaLoss[1], 0f, divergence + ": gradient");
                }
            }
        }
    }

    @Test
    void kaAveragesTheDivergenceOverItsSamples(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            LanguageModel moe = run.tinyMoe("mixtral", 22);
            Path folder = dir.resolve("teacher");
            run.models().save(moe, folder, DataType.FLOAT32);
            try (NDManager m = run.manager().newSubManager();
                 Teacher ka = openKa(run, folder, "samples = 3, experts-per-token = 3")) {
                Engine.getInstance().setRandomSeed(5);
                TokenBatch b = batch(m);
                TeacherOutput out = ka.score(b, false, m);
                assertEquals(3, out.logitSamples().size());
                assertTrue(out.logits() == out.logitSamples().get(0));
                float a = out.logitSamples().get(0).sub(out.logitSamples().get(1)).abs().max().getFloat();
                assertTrue(a > 0, "sampled passes differ");
                NDArray student = m.randomNormal(new Shape(2, 6, MoeTestRun.VOCAB));
                Loss base = loss(run, "kd.forward-kl", "temperature = 2.0");
                double expected = 0;
                for (NDArray s : out.logitSamples()) {
                    expected += base.compute(new LossInput(b, student, List.of(), out.withLogits(s), List.of(), m))
                            .sum().getFloat() / 3.0;
                }
                Loss ka3 = loss(run, KaLoss.KEY, "divergence-params = \"temperature = 2.0\"");
                LossValue v = ka3.compute(new LossInput(b, student, List.of(), out, List.of(), m));
                assertEquals(expected, v.sum().getFloat(), 1e-5 * Math.abs(expected));
                assertEquals(8, v.count());
            }
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> loss(run, KaLoss.KEY, "divergence = kd.nothing"));
            assertEquals("train.loss[0].params.divergence", e.path());
            e = assertThrows(InvalidConfigException.class, () -> loss(run, KaLoss.KEY, "divergence-params = \"tau = 2\""));
            assertEquals("train.loss[0].params.divergence-params.tau", e.path());
            e = assertThrows(InvalidConfigException.class, () -> openKa(run, folder(dir), "sampling-prob = 1.5"));
            assertEquals("teacher.params.sampling-prob", e.path());
        }
    }

    private static Path folder(Path dir) {
        return dir.resolve("teacher");
    }
}
