package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.eval.EvalReportTrainer;
import org.distillery.train.KdStages;
import org.distillery.train.KdTrainer;
import org.distillery.train.ResolvedKdStage;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code llava-kd.recipe} end to end on tiny models, in-process: the stages it builds, a student
 * composed by {@code mm.compose} from the teacher's tower and a text model, DPT training only the
 * projector, SFT and DFT training projector and language model, and the evaluation table.
 */
class RecipeTest {

    static MethodFactory method(TestRun run) {
        return run.factory(ContributionKind.METHOD, LlavaKdMethod.KEY, MethodFactory.class);
    }

    static Config params(TestRun run, String overrides) {
        return ConfigFactory.parseString(overrides).withFallback(run.defaults(ContributionKind.METHOD,
                LlavaKdMethod.KEY)).resolve();
    }

    @Test
    void stagesChainWithTheirTermsAndTrainableParts() {
        try (TestRun run = TestRun.bare()) {
            List<Stage> stages = method(run).stages(params(run, "gamma = 0.5, caption-file = c.jsonl, "
                    + "instruction-file = q.jsonl, dpt { steps = 7 }"));
            assertEquals(List.of("llava-kd.dpt", "llava-kd.sft", "llava-kd", "evaluate"),
                    stages.stream().map(Stage::name).toList());
            KdStage dpt = (KdStage) stages.get(0);
            assertEquals(List.of("kd.sft", "mm.response-kl", "mm.visual-kl", "mm.relation"),
                    dpt.loss().stream().map(l -> l.key()).toList());
            assertEquals(0.5, dpt.loss().get(3).weight());
            assertEquals(List.of("model.multi_modal_projector."), dpt.trainable());
            assertEquals("c.jsonl", dpt.sampler().params().getString("file"));
            assertEquals(7, dpt.train().getInt("steps"));
            assertEquals(1e-3, dpt.train().getDouble("lr"));
            KdStage sft = (KdStage) stages.get(1);
            assertEquals(List.of("kd.sft"), sft.loss().stream().map(l -> l.key()).toList());
            assertEquals(List.of("model.multi_modal_projector.", "model.language_model.", "lm_head.?"), sft.trainable());
            assertEquals("llava-kd.dpt", sft.initFrom());
            assertEquals("q.jsonl", sft.sampler().params().getString("file"));
            KdStage dft = (KdStage) stages.get(2);
            assertEquals("llava-kd.sft", dft.initFrom());
            assertEquals(4, dft.loss().size());
            assertEquals(List.of("llava-kd"), ((StageSpec) stages.get(3)).params().getStringList("students"));

            List<Stage> arms = method(run).stages(params(run, """
                    arms = [
                      { name = sft-only, schedule = [sft], sft { steps = 30 } }
                      { name = pt-sft, schedule = [pt, sft] }
                      { name = mdist, gamma = 0 }
                    ]"""));
            assertEquals(List.of("sft-only", "pt-sft.pt", "pt-sft", "mdist.dpt", "mdist.sft", "mdist", "evaluate"),
                    arms.stream().map(Stage::name).toList());
            assertEquals(30, ((KdStage) arms.get(0)).train().getInt("steps"));
            assertEquals(List.of("kd.sft"), ((KdStage) arms.get(1)).loss().stream().map(l -> l.key()).toList());
            assertFalse(((KdStage) arms.get(3)).loss().stream().anyMatch(l -> l.key().equals("mm.relation")),
                    "gamma = 0 leaves RDist out");
            assertEquals(List.of("sft-only", "pt-sft", "mdist"),
                    ((StageSpec) arms.get(6)).params().getStringList("students"));

            var e = assertThrows(InvalidConfigException.class, () -> method(run).stages(params(run,
                    "schedule = [dpt, ft]")));
            assertTrue(e.getMessage().startsWith("method.params.schedule") && e.getMessage().contains("ft"),
                    e.getMessage());
            e = assertThrows(InvalidConfigException.class, () -> method(run).stages(params(run,
                    "arms = [ { name = a, shedule = [sft] } ]")));
            assertTrue(e.getMessage().startsWith("method.params.arms[0].shedule"), e.getMessage());
            e = assertThrows(InvalidConfigException.class, () -> method(run).stages(params(run,
                    "trainable.dpt = [projector, tower]")));
            assertTrue(e.getMessage().contains("tower") && e.getMessage().contains("vision"), e.getMessage());
        }
    }

    @Test
    void recipeTrainsDptSftDftAndEvaluates(@TempDir Path dir) throws Exception {
        Path teacherDir = dir.resolve("teacher");
        Path lmDir = dir.resolve("lm");
        Path data = TestRun.writeSuite(dir.resolve("data"), 8);
        String experiment = """
                experiment { seed = 5, name = recipe }
                data { train-file = "%1$s/qa.jsonl", validation-file = "%1$s/qa.jsonl", test-file = "%1$s/test.jsonl" }
                tokenizer.dir = "%2$s"
                teacher { key = teacher.local, params { model-dir = "%2$s" } }
                student.initializer { key = mm.compose, params { language-model = "%3$s" } }
                train { batch-size = 4, max-length = 64, checkpoint-every = 0, eval-every = 0 }
                """.formatted(data, teacherDir, lmDir);
        try (TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), TestRun.experiment(experiment)
                .resolve())) {
            run.writeModel(teacherDir, TestRun.TINY_LLAVA, 1);
            run.writeModel(lmDir, TestRun.TINY_LM, 2);
            List<Stage> stages = method(run).stages(params(run, """
                    caption-file = "%1$s/captions.jsonl"
                    instruction-file = "%1$s/qa.jsonl"
                    dpt { steps = 3, lr = 1e-2 }
                    sft { steps = 3, lr = 1e-2 }
                    dft { steps = 3, lr = 1e-2 }
                    evaluate { max-new-tokens = 6, batch-size = 8 }
                    """.formatted(data)));
            Map<String, Path> models = new LinkedHashMap<>();
            for (Stage s : stages) {
                if (s instanceof KdStage k) {
                    ResolvedKdStage r = KdStages.resolve(run.config(), k);
                    StageResult result = new KdTrainer().run(run, r);
                    assertEquals(3, result.stepsDone());
                    models.put(s.name(), result.model());
                    Path done = run.runDir().resolve("stages").resolve(s.name()).resolve("result.json");
                    Files.writeString(done, new Gson().toJson(Map.of("model", result.model().toString())));
                } else {
                    new EvalReportTrainer().run(run, s);
                }
            }
            // dpt trains the projector only; the composed student took the teacher's tower and the text model
            Map<String, float[]> teacher = weights(teacherDir);
            Map<String, float[]> lm = weights(lmDir);
            Map<String, float[]> dpt = weights(models.get("llava-kd.dpt"));
            Map<String, float[]> last = weights(models.get("llava-kd"));
            for (String name : dpt.keySet()) {
                if (name.startsWith("model.vision_tower.")) {
                    assertTrue(Arrays.equals(teacher.get(name), dpt.get(name)) && Arrays.equals(teacher.get(name),
                            last.get(name)), name + " is the teacher's and stays frozen");
                } else if (name.startsWith("model.language_model.")) {
                    String textName = "model." + name.substring("model.language_model.".length());
                    assertTrue(Arrays.equals(lm.get(textName), dpt.get(name)), name + " is frozen in dpt");
                    assertFalse(Arrays.equals(lm.get(textName), last.get(name)), name + " trains in sft and dft");
                }
            }
            List<Map<String, Object>> steps = run.events.stream().filter(e -> "step".equals(e.get("type"))).toList();
            @SuppressWarnings("unchecked")
            Map<String, Object> dftTerms = (Map<String, Object>) steps.get(steps.size() - 1).get("terms");
            for (String term : List.of("0:kd.sft", "1:mm.response-kl", "2:mm.visual-kl", "3:mm.relation")) {
                assertTrue(dftTerms.containsKey(term) && Double.isFinite(((Number) dftTerms.get(term)).doubleValue()),
                        term + " in " + dftTerms);
            }
            String table = Files.readString(run.runDir().resolve("results.md"));
            assertTrue(table.contains("| teacher |") && table.contains("| llava-kd |") && table.contains("accuracy.color")
                    && table.contains("caption/rouge-l"), table);
        }
    }

    static Map<String, float[]> weights(Path dir) throws Exception {
        Map<String, float[]> w = new LinkedHashMap<>();
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel model = new org.distillery.models.HfModelService().load(dir, DataType.FLOAT32, m)) {
            for (Map.Entry<String, NDArray> e : model.parameters().entrySet()) {
                w.put(e.getKey(), e.getValue().toFloatArray());
            }
        }
        return w;
    }
}
