package org.distillery.surgery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The stages {@code sdd.recipe} and {@code merge.recipe} plan, their checks, and {@code merge.stage} in a run. */
class RecipesTest {

    @TempDir
    static Path dir;
    private static SurgeryTestRun run;

    @BeforeAll
    static void setUp() throws Exception {
        run = new SurgeryTestRun(Files.createDirectories(dir.resolve("run")));
    }

    @AfterAll
    static void close() {
        run.close();
    }

    private static List<Stage> plan(String key, String hocon) {
        MethodFactory f = run.factory(ContributionKind.METHOD, key, MethodFactory.class);
        Config params = ConfigFactory.parseString(hocon).withFallback(run.defaults(ContributionKind.METHOD, key)).resolve();
        return f.stages(params);
    }

    @Test
    void sddPrunesRegeneratesRecoversAndEvaluates() {
        List<Stage> stages = plan(SddRecipe.KEY, """
                model-dir = /models/teacher
                prune { drop = 2, selection = individual }
                regenerate { check = exact }
                sdd { steps = 30, lr = 1e-3 }
                baselines = [
                  { name = sft, loss = [ { key = kd.sft } ] }
                  { name = kd, loss = [ { key = kd.forward-kl } ] }
                  { name = kd-after-sdd, init-from = sdd, loss = [ { key = kd.forward-kl } ] }
                ]
                """);
        assertEquals(List.of("pruned", "regenerate", "sdd", "sft", "kd", "kd-after-sdd", "evaluate"),
                stages.stream().map(Stage::name).toList());
        StageSpec prune = (StageSpec) stages.get(0);
        assertEquals(PruneStageTrainer.KEY, prune.trainer());
        assertEquals("/models/teacher", prune.params().getString("model-dir"));
        assertEquals(2, prune.params().getInt("drop"));
        assertEquals("method.params.prune", prune.params().getString(StageParams.CONFIG_PATH));
        assertEquals("exact", ((StageSpec) stages.get(1)).params().getString("check"));
        KdStage sdd = (KdStage) stages.get(2);
        assertEquals("pruned", sdd.initFrom());
        assertEquals("stage:regenerate", sdd.sampler().params().getString("file"));
        assertEquals("kd.sft", sdd.loss().get(0).key());
        assertEquals(30, sdd.train().getInt("steps"));
        assertEquals("pruned", ((KdStage) stages.get(3)).initFrom(), "baselines start from the pruned model");
        assertEquals("sdd", ((KdStage) stages.get(5)).initFrom());
        assertEquals(List.of("pruned", "sdd", "sft", "kd", "kd-after-sdd"),
                ((StageSpec) stages.get(6)).params().getStringList("students"));

        InvalidConfigException noModel = assertThrows(InvalidConfigException.class, () -> plan(SddRecipe.KEY, ""));
        assertEquals("method.params.model-dir", noModel.path());
        InvalidConfigException typo = assertThrows(InvalidConfigException.class,
                () -> plan(SddRecipe.KEY, "model-dir = /m, prune { dorp = 2 }"));
        assertEquals("method.params.prune.dorp", typo.path());
        InvalidConfigException reserved = assertThrows(InvalidConfigException.class, () -> plan(SddRecipe.KEY,
                "model-dir = /m, baselines = [ { name = regenerate, loss = [ { key = kd.sft } ] } ]"));
        assertEquals("method.params.baselines[0].name", reserved.path());
    }

    @Test
    void mergeTrainsMergesAndEvaluates() {
        List<Stage> stages = plan(MergeRecipe.KEY, """
                variants = [
                  { name = base, loss = [ { key = kd.sft } ] }
                  { name = arith, init-from = base, loss = [ { key = kd.sft } ],
                    train.sampler { key = data.dataset, params { tasks = [arith] } } }
                ]
                merges = [
                  { name = cocktail, models = ["stage:arith", "stage:base"],
                    merger { key = merge.cocktail, params { examples-tasks = [arith], alpha = 0.7 } } }
                  { name = linear, models = ["stage:arith", "stage:base"], merger { key = merge.linear } }
                ]
                report = [arith, cocktail, linear]
                """);
        assertEquals(List.of("base", "arith", "cocktail", "linear", "evaluate"), stages.stream().map(Stage::name).toList());
        StageSpec cocktail = (StageSpec) stages.get(2);
        assertEquals(MergeStageTrainer.KEY, cocktail.trainer());
        assertEquals(List.of("stage:arith", "stage:base"), cocktail.params().getStringList("models"));
        assertEquals(0.7, cocktail.params().getDouble("merger.params.alpha"));
        assertEquals("method.params.merges[0]", cocktail.params().getString(StageParams.CONFIG_PATH));
        assertEquals(List.of("arith", "cocktail", "linear"),
                ((StageSpec) stages.get(4)).params().getStringList("students"));

        InvalidConfigException typo = assertThrows(InvalidConfigException.class, () -> plan(MergeRecipe.KEY, """
                variants = [ { name = base, loss = [ { key = kd.sft } ] } ]
                merges = [ { name = m, models = ["stage:base"], merger { key = merge.cocktail, params { alpah = 1 } } } ]
                """));
        assertEquals("method.params.merges[0].merger.params.alpah", typo.path());
        InvalidConfigException later = assertThrows(InvalidConfigException.class, () -> plan(MergeRecipe.KEY, """
                variants = [ { name = base, loss = [ { key = kd.sft } ] } ]
                merges = [ { name = m, models = ["stage:ft"], merger { key = merge.linear } } ]
                """));
        assertEquals("method.params.merges[0].models[0]", later.path());
        InvalidConfigException report = assertThrows(InvalidConfigException.class, () -> plan(MergeRecipe.KEY, """
                variants = [ { name = base, loss = [ { key = kd.sft } ] } ]
                report = [nothing]
                """));
        assertEquals("method.params.report[0]", report.path());
    }

    @Test
    void theMergeStageMergesEarlierStagesModels() throws Exception {
        Path a = run.model(dir.resolve("a"), SurgeryTestRun.config("mistral", 1), 1);
        Path b = run.model(dir.resolve("b"), SurgeryTestRun.config("mistral", 1), 2);
        Path stage = Files.createDirectories(run.runDir().resolve("stages/ft"));
        Files.writeString(stage.resolve("result.json"), "{\"model\": \"" + a + "\"}");
        StageResult r = new MergeStageTrainer().run(run, new StageSpec("merged", MergeStageTrainer.KEY,
                ConfigFactory.parseString("models = [\"stage:ft\", \"" + b + "\"], "
                        + "merger { key = merge.linear, params { weights = [0.9, 0.1] } }")));
        assertEquals(run.runDir().resolve("stages/merged/model"), r.model());
        assertEquals(0.9, r.metrics().get("weight.0"));
        assertTrue(Files.isRegularFile(r.model().resolve("model.safetensors")));
        assertTrue(run.events.stream().anyMatch(e -> "merged".equals(e.get("type"))));
        InvalidConfigException missing = assertThrows(InvalidConfigException.class, () -> new MergeStageTrainer().run(run,
                new StageSpec("m2", MergeStageTrainer.KEY, ConfigFactory.parseString(
                        "models = [\"stage:nothing\", \"" + b + "\"], config-path = \"method.params.merges[1]\""))));
        assertEquals("method.params.merges[1].models[0]", missing.path());
        InvalidConfigException badParam = assertThrows(InvalidConfigException.class, () -> new MergeStageTrainer().run(run,
                new StageSpec("m3", MergeStageTrainer.KEY, ConfigFactory.parseString(
                        "models = [\"" + a + "\", \"" + b + "\"], merger { key = merge.slerp, params { tt = 1 } }"))));
        assertEquals("stage m3.merger.params.tt", badParam.path());
    }
}
