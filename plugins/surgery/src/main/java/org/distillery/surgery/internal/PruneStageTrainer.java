package org.distillery.surgery.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.io.AtomicFiles;

/**
 * {@code prune.stage}: prunes the model in {@code model-dir} as {@code prune.layers} does and hands the
 * smaller model on as the stage's model ({@code stages/<name>/model}), so later stages start from it
 * ({@code init-from}) and the closing evaluation can score it before any recovery. The calibration
 * records are the run's ({@code calibration-file}, {@code ""} = {@code data.train-file}), the tokenizer
 * the model folder's. Stage parameters: {@code model-dir} and those of {@code prune.layers}.
 */
final class PruneStageTrainer implements Trainer {

    /** Registry key. */
    static final String KEY = "prune.stage";

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        Params p = StageParams.of(stage, KEY);
        String dir = p.string("model-dir");
        if (dir.isEmpty() || !Files.isRegularFile(Path.of(dir).resolve("config.json"))) {
            throw new InvalidConfigException(p.at("model-dir"), "is not a model folder", dir,
                    "the Hugging Face folder of the model to prune");
        }
        Path source = Path.of(dir);
        Path out = run.runDir().resolve("stages").resolve(stage.name()).resolve("model");
        AtomicFiles.deleteTree(out);
        Tokenizer tok = run.models().tokenizer(source);
        Map<String, Double> metrics = new LinkedHashMap<>();
        try (NDManager scope = run.manager().newSubManager();
             LanguageModel model = run.models().load(source, DataType.FLOAT32, scope)) {
            LayerPruner.Plan plan = LayerPruner.plan(run, run.datasets(), tok, model, p);
            Map<String, Object> provenance = new LinkedHashMap<>();
            provenance.put("stage", stage.name());
            provenance.put("source", source.toString());
            provenance.put("params", p.config().root().unwrapped());
            LayerPruner.write(run, model, plan, out, source, provenance, p.at("drop"));
            run.events().event(KEY, Map.of("stage", stage.name(), "dropped", plan.drop(), "kept", plan.keep(),
                    "distances", plan.distances().toString(), "dir", out.toString()));
            metrics.put("layers.before", (double) model.config().numLayers());
            metrics.put("layers.after", (double) plan.keep().size());
            plan.distances().forEach((l, d) -> metrics.put("distance." + l, d));
        }
        return new StageResult(0, out, metrics, false);
    }

    /** Builds {@link PruneStageTrainer}. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "prune a model folder's decoder blocks by angular distance; hands the smaller model on";
        }

        @Override
        public Trainer create() {
            return new PruneStageTrainer();
        }
    }
}
