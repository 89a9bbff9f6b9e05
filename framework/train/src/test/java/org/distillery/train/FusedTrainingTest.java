package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.api.model.OutputHead;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.api.train.KdStage;
import org.distillery.kit.loss.Chunks;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code train.fused-output}: a {@code train.kd} run with the fused output layer (student and local
 * teacher run to their final norm, the losses compute the logits chunk by chunk) follows the same
 * trajectory as the same run with materialised logits: the loss, every term and the gradient norm at
 * every step agree within 1e-4 relative, with a teacher whose vocabulary extends the student's
 * ({@code tokenizer.vocab-policy = truncate-teacher}), for a chunked loss alone and next to a loss that
 * reads every logit at once (the fallback). The stage logs which path it took.
 */
class FusedTrainingTest {

    /** Forward KL through the kit: the teacher's and the student's logits read chunk by chunk. */
    static final class ChunkedForwardKl implements LossFactory {
        @Override
        public String description() {
            return "test forward KL through Chunks";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            return new Loss() {
                @Override
                public Set<Need> needs() {
                    return EnumSet.of(Need.TEACHER_LOGITS);
                }

                @Override
                public LossValue compute(LossInput in) {
                    NDArray mask = in.batch().lossMask();
                    Logits teacher = in.teacher().logitsView();
                    NDArray sum = Chunks.sum(in.logits(), 5, in, (chunk, positions, s) -> {
                        NDArray logP = Chunks.slice(teacher, positions, chunk).logSoftmax(-1);
                        NDArray logQ = s.logSoftmax(-1);
                        NDArray kl = logP.exp().mul(logP.sub(logQ)).sum(new int[] {-1});
                        return kl.mul(Chunks.slice(mask, positions, chunk)).sum();
                    });
                    return new LossValue(sum, Chunks.count(mask));
                }
            };
        }
    }

    private static TestRun run(Path dir, boolean fused, String loss) throws Exception {
        Path data = TestRun.writeData(Files.createDirectories(dir.resolve("data")), 64);
        Path tok = Files.createDirectories(dir.resolve("data/tok"));
        new ByteTokenizer().save(tok);
        Path teacher = dir.resolve("teacher");
        String conf = """
                experiment.seed = 3
                data.train-file = "%s"
                tokenizer { dir = "%s", vocab-policy = truncate-teacher }
                teacher { key = teacher.local, params { model-dir = "%s" } }
                student {
                  inherit-teacher-config = false
                  config { model_type = gpt2, vocab_size = 259, n_embd = 24, n_layer = 1, n_head = 2, n_positions = 64,
                           bos_token_id = 257, eos_token_id = 258, resid_pdrop = 0, embd_pdrop = 0, attn_pdrop = 0 }
                }
                train { steps = 4, batch-size = 4, max-length = 32, lr = 1e-3, fused-output = %s, loss = %s }
                """.formatted(data, tok, teacher, fused, loss);
        TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(conf));
        run.writeTinyModel(teacher, """
                {"model_type": "gpt2", "vocab_size": 264, "n_embd": 32, "n_layer": 1, "n_head": 2, "n_positions": 64,
                 "bos_token_id": 257, "eos_token_id": 258, "resid_pdrop": 0, "embd_pdrop": 0, "attn_pdrop": 0}
                """, 9);
        run.register(ContributionKind.LOSS, "test.fkl", new ChunkedForwardKl(), ConfigFactory.empty());
        run.register(ContributionKind.LOSS, "test.ce", new CrossEntropy(), ConfigFactory.empty());
        return run;
    }

    private static List<Map<String, Object>> train(Path dir, boolean fused, String loss) throws Exception {
        try (TestRun run = run(dir, fused, loss)) {
            new KdTrainer().run(run, KdStage.named("distill"));
            Map<String, Object> layer = run.events.stream().filter(e -> "output-layer".equals(e.get("type")))
                    .findFirst().orElseThrow();
            assertEquals(fused ? "fused" : "materialised", layer.get("logits"));
            return run.steps();
        }
    }

    @Test
    void fusedRunFollowsTheMaterialisedOne(@TempDir Path dir) throws Exception {
        for (String loss : List.of("[ { key = test.fkl } ]", "[ { key = test.fkl }, { key = test.ce, weight = 0.5 } ]")) {
            String name = loss.contains("test.ce") ? "mixed" : "chunked";
            List<Map<String, Object>> materialised = train(dir.resolve(name + "-materialised"), false, loss);
            List<Map<String, Object>> fused = train(dir.resolve(name + "-fused"), true, loss);
            assertEquals(4, fused.size());
            for (int i = 0; i < fused.size(); i++) {
                for (String figure : List.of("loss", "grad-norm")) {
                    double a = ((Number) materialised.get(i).get(figure)).doubleValue();
                    double b = ((Number) fused.get(i).get(figure)).doubleValue();
                    assertEquals(a, b, 1e-4 * Math.abs(a), name + ", step " + (i + 1) + ", " + figure);
                }
                @SuppressWarnings("unchecked")
                Map<String, Object> ta = (Map<String, Object>) materialised.get(i).get("terms");
                @SuppressWarnings("unchecked")
                Map<String, Object> tb = (Map<String, Object>) fused.get(i).get("terms");
                assertEquals(ta.keySet(), tb.keySet());
                for (Map.Entry<String, Object> e : ta.entrySet()) {
                    double a = ((Number) e.getValue()).doubleValue();
                    assertEquals(a, ((Number) tb.get(e.getKey())).doubleValue(), 1e-4 * Math.abs(a),
                            name + ", step " + (i + 1) + ", term " + e.getKey());
                }
            }
        }
    }

    @Test
    void teacherLogitsAreLeftFusedOrMaterialisedAndCutToTheStudentsVocabulary() {
        try (NDManager m = NDManager.newBaseManager()) {
            NDArray hidden = m.randomNormal(new Shape(2, 3, 4));
            OutputHead head = OutputHead.of(m.randomNormal(new Shape(7, 4)));
            NDArray full = head.apply(hidden);
            TeacherOutput fusedOut = new TeacherOutput(Logits.fused(hidden, head), List.of());

            TeacherOutput kept = KdTrainer.teacherLogits(fusedOut, true, Long.MAX_VALUE);
            assertSame(fusedOut, kept, "fused and not cut: as scored");

            TeacherOutput cut = KdTrainer.teacherLogits(fusedOut, true, 5);
            assertTrue(cut.fused().isFused() && !cut.fused().isMaterialised(), "still fused");
            assertEquals(new Shape(2, 3, 5), cut.logitsView().shape());
            assertArrayEqual(full.get(":, :, :5"), cut.logits());

            TeacherOutput materialised = KdTrainer.teacherLogits(new TeacherOutput(Logits.fused(hidden, head),
                    List.of()), false, 5);
            assertFalse(materialised.logitsView().isFused(), "the unfused path materialises");
            assertArrayEqual(full.get(":, :, :5"), materialised.logits());

            TeacherOutput plain = new TeacherOutput(full, null, null, null, List.of(), List.of(full, full));
            TeacherOutput plainCut = KdTrainer.teacherLogits(plain, true, 5);
            assertEquals(new Shape(2, 3, 5), plainCut.logits().getShape());
            assertEquals(2, plainCut.logitSamples().size());
            plainCut.logitSamples().forEach(s -> assertEquals(new Shape(2, 3, 5), s.getShape()));

            TeacherOutput topK = new TeacherOutput(null, full, full, full, List.of());
            assertSame(topK, KdTrainer.teacherLogits(topK, true, 5), "top-k outputs pass through");
        }
    }

    private static void assertArrayEqual(NDArray expected, NDArray actual) {
        assertEquals(expected.getShape(), actual.getShape());
        float[] a = expected.toFloatArray();
        float[] b = actual.toFloatArray();
        for (int i = 0; i < a.length; i++) {
            assertEquals(a[i], b[i], 1e-5f, "entry " + i);
        }
    }
}
