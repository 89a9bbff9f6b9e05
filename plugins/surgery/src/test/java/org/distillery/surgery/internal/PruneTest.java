package org.distillery.surgery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.model.WeightReader;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.eval.Evaluator;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Layer pruning on every architecture the project loads: a block made an identity (its output projections
 * zeroed) is the one the angular distance picks, removing it leaves the logits unchanged (so the smaller
 * model's layer numbering, sliding windows and sparse layers are right), every other tensor is kept bit for
 * bit, and the pruned folder loads and scores.
 */
class PruneTest {

    @TempDir
    static Path dir;
    private static SurgeryTestRun run;
    private static Path data;

    @BeforeAll
    static void setUp() throws Exception {
        data = dir.resolve("calibration.jsonl");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 12; i++) {
            sb.append("{\"prompt\": \"tell me about item ").append(i).append("\", \"response\": \"it is number ")
                    .append(i).append(" of twelve\", \"meta\": {\"task\": \"describe\"}}\n");
        }
        Files.writeString(data, sb);
        run = new SurgeryTestRun(Files.createDirectories(dir.resolve("run")),
                TestRunContext.experiment("data.train-file = \"" + data + "\""));
    }

    @AfterAll
    static void close() {
        run.close();
    }

    /** A 4-layer model whose block 1 adds nothing to the residual stream. */
    private static Path withIdentityBlock(String arch) throws Exception {
        Path folder = dir.resolve(arch + "-identity");
        if (Files.exists(folder.resolve("config.json"))) {
            return folder;
        }
        run.model(folder, SurgeryTestRun.config(arch, 4), 5);
        try (NDManager m = run.manager().newSubManager(); LanguageModel lm = run.load(folder, m)) {
            for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                if (e.getKey().matches("(model\\.layers|transformer\\.h)\\.1\\..*(c_proj|o_proj|down_proj|w2)\\.(weight|bias)")) {
                    e.getValue().set(new float[(int) e.getValue().size()]);
                }
            }
            run.models().save(lm, folder, DataType.FLOAT32);
        }
        return folder;
    }

    private LanguageModel prune(LanguageModel teacher, Path tokenizerDir, String params) throws Exception {
        var c = run.registry().find(ContributionKind.MODEL_INITIALIZER, PruneInitializer.KEY,
                ModelInitializerFactory.class).orElseThrow();
        return c.factory().create(ConfigFactory.parseString(params).withFallback(c.defaults()).resolve())
                .initialize(run.initializerContext(tokenizerDir), teacher);
    }

    @Test
    void everyArchitectureLosesAnIdentityBlockWithoutChangingItsOutput() throws Exception {
        for (String arch : SurgeryTestRun.ARCHITECTURES) {
            Path folder = withIdentityBlock(arch);
            try (NDManager m = run.manager().newSubManager(); LanguageModel teacher = run.load(folder, m)) {
                for (String selection : List.of("individual", "contiguous")) {
                    try (LanguageModel student = prune(teacher, folder, "drop = 1, selection = " + selection
                            + ", token = all")) {
                        assertEquals(3, student.config().numLayers(), arch);
                        NDArray ids = m.create(new long[][] {{257, 40, 41, 42, 43, 44, 45, 46}, {257, 9, 8, 7, 6, 5, 4, 3}});
                        float[] full = teacher.forward(ids, ForwardOptions.inference()).logits().toFloatArray();
                        float[] pruned = student.forward(ids, ForwardOptions.inference()).logits().toFloatArray();
                        for (int i = 0; i < full.length; i++) {
                            assertEquals(full[i], pruned[i], 1e-4f, arch + " " + selection + " logit " + i);
                        }
                        Map<String, Object> event = run.events.get(run.events.size() - 1);
                        assertEquals(List.of(1), event.get("dropped"), arch + " " + selection + ": " + event);
                    }
                }
            }
        }
    }

    @Test
    void keptTensorsAreBitwiseTheTeachersAndThePrunedFolderScores() throws Exception {
        Path folder = withIdentityBlock("qwen2_moe");
        Path out = dir.resolve("pruned-qwen2-moe");
        try (NDManager m = run.manager().newSubManager(); LanguageModel teacher = run.load(folder, m);
             LanguageModel student = prune(teacher, folder, "layers = [0, 2], output-dir = \"" + out + "\"")) {
            assertEquals(2, student.config().numLayers());
        }
        Map<String, Object> config = new Gson().fromJson(Files.readString(out.resolve("config.json")), Map.class);
        assertEquals(2.0, config.get("num_hidden_layers"));
        // layers 1 and 3 stay: layer 3 was sparse (decoder_sparse_step 2), layer 1 too, so both kept layers are sparse
        assertEquals(List.of(), config.get("mlp_only_layers"));
        try (WeightReader source = run.models().openWeights(folder); WeightReader pruned = run.models().openWeights(out)) {
            int renamed = 0;
            for (String name : source.tensors().keySet()) {
                String to = LayerPruner.rename(name, Map.of(1, 0, 3, 1));
                if (to == null) {
                    assertFalse(name.contains("layers.1.") || name.contains("layers.3."), name);
                    continue;
                }
                assertEquals(source.bytes(name), pruned.bytes(to), name + " -> " + to);
                renamed += to.equals(name) ? 0 : 1;
            }
            assertTrue(renamed > 10, "the kept layers were renumbered");
            assertEquals(pruned.tensors().size(), source.tensors().keySet().stream()
                    .filter(n -> LayerPruner.rename(n, Map.of(1, 0, 3, 1)) != null).count());
        }
        assertTrue(Files.isRegularFile(out.resolve("tokenizer_config.json")));
        assertTrue(Files.readString(out.resolve("prune.json")).contains("\"dropped\""));
        List<Example> records = run.data().readJsonl(data);
        try (NDManager m = run.manager().newSubManager(); LanguageModel lm = run.load(out, m)) {
            double loss = new Evaluator(run, 8, 8).evaluate(lm, null, run.models().tokenizer(out), records,
                    List.of(Evaluator.MetricSpec.of("eval.lm-loss"))).figures().get("lm-loss");
            assertTrue(Double.isFinite(loss) && loss > 0, "scores: " + loss);
        }
    }

    @Test
    void thePruneStageHandsTheSmallerModelOn() throws Exception {
        Path folder = withIdentityBlock("llama");
        StageResult r = new PruneStageTrainer().run(run, new StageSpec("pruned", PruneStageTrainer.KEY,
                ConfigFactory.parseString("model-dir = \"" + folder + "\", drop = 1, selection = individual")));
        assertEquals(run.runDir().resolve("stages/pruned/model"), r.model());
        assertEquals(3.0, r.metrics().get("layers.after"));
        assertEquals(4.0, r.metrics().get("layers.before"));
        assertTrue(r.metrics().get("distance.1") < r.metrics().get("distance.0"), r.metrics().toString());
        assertEquals(3, run.readConfig(r.model()).numLayers());
        InvalidConfigException unknown = assertThrows(InvalidConfigException.class, () -> new PruneStageTrainer().run(run,
                new StageSpec("pruned", PruneStageTrainer.KEY, ConfigFactory.parseString(
                        "model-dir = \"" + folder + "\", dorp = 1, config-path = method.params.prune"))));
        assertEquals("method.params.prune.dorp", unknown.path());
    }

    @Test
    void refusesToPruneWhatCannotBePruned() throws Exception {
        Path folder = withIdentityBlock("gpt2");
        try (NDManager m = run.manager().newSubManager(); LanguageModel teacher = run.load(folder, m)) {
            InvalidConfigException tooMany = assertThrows(InvalidConfigException.class,
                    () -> prune(teacher, folder, "drop = 4"));
            assertEquals("student.initializer.params.drop", tooMany.path());
            InvalidConfigException range = assertThrows(InvalidConfigException.class,
                    () -> prune(teacher, folder, "layers = [4]"));
            assertEquals("student.initializer.params.layers", range.path());
            InvalidConfigException all = assertThrows(InvalidConfigException.class,
                    () -> prune(teacher, folder, "layers = [0, 1, 2, 3]"));
            assertTrue(all.getMessage().contains("keep at least one"), all.getMessage());
        }
    }
}
