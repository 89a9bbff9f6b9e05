package org.distillery.kdcore.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.OutputHead;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.models.ModelConfigs;
import org.distillery.testkit.FusedParity;
import org.distillery.testkit.TestRunContext;

/**
 * Golden tests of the fused output layer for every kd-core loss: the value and the gradients with
 * the student's logits fused (final hidden states and head, logits computed chunk by chunk; a local
 * teacher's likewise) equal those of the unfused path (logits materialised by the models), through
 * real tiny models: a GPT-2 student with tied embeddings and a Llama student with an untied head,
 * a GPT-2 teacher, with the teacher's full logits or its top-5 (a cached teacher). Gradients are
 * compared for every model parameter, the head or tied embedding included; over leaf hidden states
 * and a head with bias, scaling and soft-capping for the hidden-state and head gradients.
 *
 * <p>Tolerances: values within 1e-5·max(1, |v|); each gradient entry within 1e-4 of the largest
 * entry of its array (float32 matmuls and sums in another order: the fused path multiplies chunks
 * of rows, the unfused one all rows at once).
 */
class FusedOutputLayerTest {

    private static final int B = 2;
    private static final int T = 12;
    private static final int V = 64;
    private static final double VALUE_TOLERANCE = 1e-5;
    private static final double GRADIENT_TOLERANCE = 1e-4;

    private static TestRunContext run;
    private static LossHarness harness;
    private static LanguageModel gpt2;
    private static LanguageModel llama;
    private static LanguageModel teacher;
    private static NDManager data;
    private static TokenBatch batch;

    /** One loss configuration and the teacher it reads. */
    record Case(String key, String hocon, String teacherKind) {
        @Override
        public String toString() {
            return key + (hocon.isEmpty() ? "" : " {" + hocon + "}") + ", " + teacherKind + " teacher";
        }
    }

    static List<Case> cases() {
        List<Case> all = new ArrayList<>();
        all.add(new Case(SftLoss.KEY, "", "no"));
        all.add(new Case(SftLoss.KEY, "label-smoothing = 0.1, chunk-size = 5", "no"));
        all.add(new Case(SeqKdLoss.KEY, "", "no"));
        for (String teacherKind : List.of("full", "top-k")) {
            all.add(new Case(ForwardKlLoss.KEY, "", teacherKind));
            all.add(new Case(ForwardKlLoss.KEY, "temperature = 2.0, chunk-size = 5", teacherKind));
            all.add(new Case(ReverseKlLoss.KEY, "", teacherKind));
            all.add(new Case(ReverseKlLoss.KEY, "temperature = 0.5, chunk-size = 3", teacherKind));
            all.add(new Case(JsdLoss.KEY, "beta = 0.5", teacherKind));
            all.add(new Case(JsdLoss.KEY, "beta = 0.1, temperature = 1.5", teacherKind));
            all.add(new Case(TvdLoss.KEY, "", teacherKind));
            all.add(new Case(SkewKlLoss.KEY, "alpha = 0.1", teacherKind));
            all.add(new Case(SkewReverseKlLoss.KEY, "alpha = 0.1, chunk-size = 7", teacherKind));
        }
        all.add(new Case(HiddenStateLoss.KEY, "layers = [[1, 1], [2, 2]]", "full"));
        return all;
    }

    @BeforeAll
    static void setUp() {
        run = TestRunContext.builder().noRegistry().build();
        harness = new LossHarness();
        gpt2 = model(Map.of("model_type", "gpt2", "n_embd", 16L, "n_layer", 2L, "n_head", 2L, "n_positions", 32L,
                "attn_pdrop", 0.0, "resid_pdrop", 0.0, "embd_pdrop", 0.0), 1);
        llama = model(Map.of("model_type", "llama", "hidden_size", 16L, "num_hidden_layers", 2L,
                "num_attention_heads", 2L, "num_key_value_heads", 1L, "intermediate_size", 24L,
                "max_position_embeddings", 32L, "tie_word_embeddings", false), 2);
        teacher = model(Map.of("model_type", "gpt2", "n_embd", 24L, "n_layer", 2L, "n_head", 2L, "n_positions", 32L,
                "attn_pdrop", 0.0, "resid_pdrop", 0.0, "embd_pdrop", 0.0), 3);
        data = run.manager().newSubManager();
        batch = batch(data);
    }

    @AfterAll
    static void tearDown() {
        data.close();
        gpt2.close();
        llama.close();
        teacher.close();
        harness.close();
        run.close();
    }

    private static LanguageModel model(Map<String, Object> fields, long seed) {
        Map<String, Object> raw = new LinkedHashMap<>(fields);
        raw.put("vocab_size", (long) V);
        raw.put("initializer_range", 0.3);
        return run.models().create(ModelConfigs.fromMap(raw), seed, run.manager());
    }

    /** Two rows: the second right-padded by 3; the first 3 positions are prompt; one target is -100. */
    private static TokenBatch batch(NDManager m) {
        Random random = new Random(17);
        long[] ids = new long[B * T];
        long[] targets = new long[B * T];
        float[] attention = new float[B * T];
        float[] loss = new float[B * T];
        for (int r = 0; r < B; r++) {
            int length = r == 0 ? T : T - 3;
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                ids[i] = t < length ? random.nextInt(V) : 0;
                attention[i] = t < length ? 1 : 0;
                loss[i] = t >= 3 && t < length - 1 ? 1 : 0;
            }
            for (int t = 0; t < T; t++) {
                int i = r * T + t;
                targets[i] = t + 1 < length ? ids[i + 1] : -100;
            }
        }
        Shape shape = new Shape(B, T);
        return new TokenBatch(m.create(ids, shape), m.create(attention, shape), m.create(targets, shape),
                m.create(loss, shape), m.create(new int[] {3, 3}));
    }

    private static FusedParity.TeacherSide teacherSide(String kind) {
        return switch (kind) {
            case "full" -> FusedParity.modelTeacher(teacher);
            case "top-k" -> FusedParity.topKTeacher(teacher, 5);
            default -> FusedParity.noTeacher();
        };
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fusedEqualsUnfusedThroughATiedGpt2Student(Case c) {
        compare(c, gpt2, "gpt2 (tied)");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void fusedEqualsUnfusedThroughAnUntiedLlamaStudent(Case c) {
        compare(c, llama, "llama (untied)");
    }

    private static void compare(Case c, LanguageModel student, String studentName) {
        Loss loss = harness.create(c.key(), c.hocon());
        FusedParity.Result unfused = FusedParity.throughModel(loss, student, batch, teacherSide(c.teacherKind()),
                false, run.manager());
        FusedParity.Result fused = FusedParity.throughModel(loss, student, batch, teacherSide(c.teacherKind()),
                true, run.manager());
        FusedParity.assertEqual(unfused, fused, VALUE_TOLERANCE, GRADIENT_TOLERANCE, c + ", " + studentName);
    }

    @Test
    void headWithBiasScaleAndSoftCapGivesTheUnfusedGradients() {
        Random random = new Random(23);
        int width = 8;
        for (Case c : List.of(new Case(SftLoss.KEY, "label-smoothing = 0.1", "no"),
                new Case(ForwardKlLoss.KEY, "temperature = 2.0, chunk-size = 5", "full"),
                new Case(JsdLoss.KEY, "beta = 0.3", "top-k"))) {
            Loss loss = harness.create(c.key(), c.hocon());
            FusedParity.Result[] results = new FusedParity.Result[2];
            for (int path = 0; path < 2; path++) {
                try (NDManager m = run.manager().newSubManager()) {
                    random.setSeed(23);
                    NDArray hidden = m.create(gaussian(random, B * T * width, 1.0), new Shape(B, T, width));
                    OutputHead head = new OutputHead(m.create(gaussian(random, V * width, 0.5), new Shape(V, width)),
                            m.create(gaussian(random, V, 0.3)), 0.8, 4.0);
                    NDArray teacherLogits = m.create(gaussian(random, B * T * V, 2.0), new Shape(B, T, V));
                    TeacherOutput tout = switch (c.teacherKind()) {
                        case "full" -> new TeacherOutput(teacherLogits, null, null, null, List.of());
                        case "top-k" -> topK(teacherLogits, 5);
                        default -> null;
                    };
                    results[path] = FusedParity.onHidden(loss, hidden, head, batch, tout, path == 1, m);
                }
            }
            FusedParity.assertEqual(results[0], results[1], VALUE_TOLERANCE, GRADIENT_TOLERANCE,
                    c + ", head with bias, scale 0.8, soft cap 4");
        }
    }

    private static TeacherOutput topK(NDArray logits, int k) {
        NDArray logProbs = logits.logSoftmax(-1);
        var top = logProbs.topK(k, -1, true, true);
        NDArray rest = top.get(0).exp().sum(new int[] {-1}).neg().add(1f).log();
        return new TeacherOutput(null, top.get(1).toType(DataType.INT64, false), top.get(0), rest, List.of());
    }

    private static float[] gaussian(Random random, int n, double sigma) {
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            x[i] = (float) (sigma * random.nextGaussian());
        }
        return x;
    }
}
