package org.distillery.surgery.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.MergerFactory;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.io.AtomicFiles;

/**
 * {@code merge.stage}: merges models into {@code stages/<name>/model} with any registered merger and hands
 * the merged model on, so a run can fine-tune, merge, then evaluate (or train further from the merge).
 * Stage parameters: {@code models} (each {@code stage:<name>}, the model an earlier stage handed on, or a
 * folder) and {@code merger { key, params }} (checked against the merger's defaults). The merge's weights
 * and details go to the event log ({@code merged}) and the stage's metrics ({@code weight.<i>}).
 */
final class MergeStageTrainer implements Trainer {

    /** Registry key. */
    static final String KEY = "merge.stage";

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        Params p = StageParams.of(stage, KEY);
        List<String> refs = p.strings("models");
        if (refs.isEmpty()) {
            throw new InvalidConfigException(p.at("models"), "names no model", "[]",
                    "stage:<name> of earlier stages or model folders");
        }
        List<Path> models = new ArrayList<>();
        for (int i = 0; i < refs.size(); i++) {
            models.add(StageParams.model(run, refs.get(i), p.at("models") + "[" + i + "]"));
        }
        Params merger = p.child("merger");
        String key = merger.string("key");
        var c = run.registry().find(ContributionKind.MERGER, key, MergerFactory.class)
                .orElseThrow(() -> new InvalidConfigException(merger.at("key"), "no registered merger", key,
                        String.join(", ", run.registry().list(ContributionKind.MERGER).stream().map(i -> i.key())
                                .toList())));
        Config given = merger.has("params") ? merger.child("params").config() : ConfigFactory.empty();
        Params.checkKnown(given.root(), c.defaults().root(), merger.at("params"));
        Path out = run.runDir().resolve("stages").resolve(stage.name()).resolve("model");
        // a merge that finished without its stage result (a crash in between) is redone
        AtomicFiles.deleteTree(out);
        MergeResult r = c.factory().create(given.withFallback(c.defaults()).resolve()).merge(new MergeContext(run,
                run.datasets(), models, out, merger.at("params"), p.at("models")));
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("stage", stage.name());
        event.put("merger", c.info().coordinates());
        event.put("models", models.stream().map(Path::toString).toList());
        event.put("weights", r.weights());
        event.put("details", r.details());
        run.events().event("merged", event);
        Map<String, Double> metrics = new LinkedHashMap<>();
        for (int i = 0; i < r.weights().size(); i++) {
            metrics.put("weight." + i, r.weights().get(i));
        }
        return new StageResult(0, r.model(), metrics, false);
    }

    /** Builds {@link MergeStageTrainer}. */
    static final class Factory implements TrainerFactory {
        @Override
        public String description() {
            return "merge earlier stages' models (or folders) with a registered merger; hands the merge on";
        }

        @Override
        public Trainer create() {
            return new MergeStageTrainer();
        }
    }
}
