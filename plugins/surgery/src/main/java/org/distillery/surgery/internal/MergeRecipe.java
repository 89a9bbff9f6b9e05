package org.distillery.surgery.internal;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.merge.MergerFactory;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code merge.recipe}: fine-tune, merge, evaluate. Its {@code variants} are training stages written as
 * {@code kd.compare}'s (a base model trained on everything, models fine-tuned from it on one task family,
 * ...); its {@code merges} are {@code merge.stage} stages, each {@code {name, models = [stage:<variant> or
 * folders], merger { key, params }}}; a closing {@code eval.report} scores the stages listed in
 * {@code report} ({@code []}: every variant and merge) and the teacher. The parameters of this bundle's
 * mergers are checked when the method is planned; another bundle's merger is checked when its stage runs.
 *
 * <pre>
 * method {
 *   key = merge.recipe
 *   params {
 *     variants = [
 *       { name = base, loss = [ { key = kd.sft } ] }
 *       { name = arith, init-from = base, loss = [ { key = kd.sft } ], train.sampler { key = data.dataset, params { tasks = [arith] } } }
 *     ]
 *     merges = [
 *       { name = cocktail, models = ["stage:arith", "stage:base"], merger { key = merge.cocktail, params { examples-tasks = [arith] } } }
 *     ]
 *   }
 * }
 * </pre>
 */
final class MergeRecipe implements MethodFactory {

    /** Registry key. */
    static final String KEY = "merge.recipe";

    private final Map<String, MergerFactory> own;
    private final Config reference;

    MergeRecipe(Map<String, MergerFactory> own, Config reference) {
        this.own = own;
        this.reference = reference;
    }

    @Override
    public String description() {
        return "train variants (base, fine-tuned), merge their models with merge.stage, then eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        List<Stage> stages = new ArrayList<>(Stages.variants(p, "variants", List.of(), Set.of(Stages.EVALUATE, "teacher")));
        Set<String> names = new HashSet<>();
        stages.forEach(s -> names.add(s.name()));
        List<? extends Config> merges = params.getConfigList("merges");
        for (int i = 0; i < merges.size(); i++) {
            Params m = Params.of(merges.get(i), p.at("merges") + "[" + i + "]").allowOnly("name", "models", "merger");
            if (!m.has("name") || !m.string("name").matches("[a-z0-9][a-z0-9.-]*")) {
                throw new InvalidConfigException(m.at("name"), "missing or not a lowercase name",
                        m.has("name") ? m.string("name") : null, "e.g. cocktail");
            }
            String name = m.string("name");
            if (!names.add(name) || name.equals(Stages.EVALUATE) || name.equals("teacher")) {
                throw new InvalidConfigException(m.at("name"), "must be unique and not 'evaluate' or 'teacher'", name,
                        "another name");
            }
            List<String> models = m.has("models") ? m.strings("models") : List.of();
            for (int k = 0; k < models.size(); k++) {
                String ref = models.get(k);
                if (ref.startsWith(StageParams.STAGE_PREFIX) && !names.contains(ref.substring(StageParams.STAGE_PREFIX.length()))) {
                    throw new InvalidConfigException(m.at("models") + "[" + k + "]", "names no earlier stage", ref,
                            String.join(", ", stages.stream().map(s -> StageParams.STAGE_PREFIX + s.name()).toList())
                                    + ", or a model folder");
                }
            }
            if (models.isEmpty()) {
                throw new InvalidConfigException(m.at("models"), "is missing or empty", null,
                        "[stage:<variant>, ...] or model folders");
            }
            Params merger = m.child("merger").allowOnly("key", "params");
            String key = merger.has("key") ? merger.string("key") : "";
            Config given = merger.has("params") ? merger.child("params").config() : ConfigFactory.empty();
            if (own.containsKey(key)) {
                String path = ContributionKind.MERGER.defaultsPath(key);
                Params.checkKnown(given.root(), reference.getConfig(path).root(), merger.at("params"));
            } else if (key.isEmpty()) {
                throw new InvalidConfigException(merger.at("key"), "is missing", null, "a registered merger, e.g. "
                        + String.join(", ", own.keySet()));
            }
            Config stageParams = ConfigFactory.empty()
                    .withValue("models", ConfigValueFactory.fromIterable(models))
                    .withValue("merger", ConfigValueFactory.fromMap(Map.of("key", key, "params",
                            given.root().unwrapped())));
            stages.add(new StageSpec(name, MergeStageTrainer.KEY, StageParams.withPath(stageParams, m.path())));
        }
        List<String> report = p.strings("report");
        for (int i = 0; i < report.size(); i++) {
            if (!names.contains(report.get(i))) {
                throw new InvalidConfigException(p.at("report") + "[" + i + "]", "names no variant or merge",
                        report.get(i), String.join(", ", names));
            }
        }
        List<String> evaluated = report.isEmpty() ? stages.stream().map(Stage::name).toList() : report;
        if (evaluated.isEmpty()) {
            throw new InvalidConfigException(p.at("variants"), "the recipe has nothing to evaluate", "[]",
                    "variants and merges");
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), evaluated));
        return stages;
    }
}
