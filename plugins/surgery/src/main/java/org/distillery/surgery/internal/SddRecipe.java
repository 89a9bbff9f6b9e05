package org.distillery.surgery.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code sdd.recipe}: Self-Data Distillation for a pruned model (Thangarasa et al., arXiv 2410.09982;
 * METHODS.md A15): prune the model in {@code model-dir} ({@code prune.stage}, stage {@code pruned}), let the
 * unpruned model re-answer the fine-tuning prompts ({@code sdd.regenerate}, stage {@code regenerate}),
 * fine-tune the pruned model on that data ({@code train.kd} with {@code kd.sft} on
 * {@code stage:regenerate}, stage {@code sdd}), then evaluate the pruned, recovered and baseline models
 * and the teacher ({@code eval.report}). {@code baselines} are more recovery stages written as
 * {@code kd.compare}'s variants, starting from the pruned model unless they say otherwise: SFT on the
 * original labels, KD from the unpruned model (the experiment's teacher), layer-wise dynamic KD, ...
 *
 * <pre>
 * teacher { key = teacher.local, params { model-dir = ${DISTILL_HOME}/config/models/teacher } }
 * method {
 *   key = sdd.recipe
 *   params {
 *     model-dir = ${teacher.params.model-dir}
 *     prune { drop = 1 }
 *     baselines = [ { name = sft, loss = [ { key = kd.sft } ] }, { name = kd, loss = [ { key = kd.forward-kl } ] } ]
 *   }
 * }
 * </pre>
 */
final class SddRecipe implements MethodFactory {

    /** Registry key. */
    static final String KEY = "sdd.recipe";
    /** The pruning stage. */
    static final String PRUNED = "pruned";
    /** The regeneration stage. */
    static final String REGENERATE = "regenerate";
    /** The recovery fine-tune on the self-distilled data. */
    static final String SDD = "sdd";

    private final Config reference;

    SddRecipe(Config reference) {
        this.reference = reference;
    }

    @Override
    public String description() {
        return "self-data distillation: prune, the unpruned model regenerates the data, fine-tune the pruned model, "
                + "evaluate (with baselines)";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        String modelDir = p.string("model-dir");
        if (modelDir.isEmpty()) {
            throw new InvalidConfigException(p.at("model-dir"), "is missing: the model to prune and to regenerate "
                    + "the data with", "\"\"", "a model folder, e.g. ${teacher.params.model-dir}");
        }
        List<Stage> stages = new ArrayList<>();
        stages.add(stage(PRUNED, PruneStageTrainer.KEY, p.child("prune"), modelDir));
        stages.add(stage(REGENERATE, RegenerateTrainer.KEY, p.child("regenerate"), modelDir));
        KdStage sdd = KdStage.named(SDD).withLoss(List.of(LossSpec.of("kd.sft")))
                .withSampler(new ContributionRef("data.dataset", ConfigFactory.parseMap(java.util.Map.of(
                        "file", StageParams.STAGE_PREFIX + REGENERATE))))
                .withInitFrom(PRUNED).at(p.at("sdd"));
        stages.add(p.has("sdd") ? Stages.overTrain(sdd, p.child("sdd")) : sdd);
        List<String> evaluated = new ArrayList<>(List.of(PRUNED, SDD));
        for (KdStage b : Stages.variants(p, "baselines", List.of(PRUNED, SDD), Set.of(REGENERATE, Stages.EVALUATE,
                "teacher"))) {
            stages.add(b.initFrom() == null ? b.withInitFrom(PRUNED) : b);
            evaluated.add(b.name());
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), evaluated));
        return stages;
    }

    /** A stage of this bundle's trainer {@code trainer} with {@code block} over its defaults and {@code model-dir}. */
    private StageSpec stage(String name, String trainer, Params block, String modelDir) {
        if (block.has("model-dir") && !block.string("model-dir").isEmpty()) {
            throw new InvalidConfigException(block.at("model-dir"), "is the recipe's model-dir", block.string("model-dir"),
                    "method.params.model-dir");
        }
        Config defaults = reference.getConfig(ContributionKind.TRAINER.defaultsPath(trainer));
        Config given = block.config().withValue("model-dir", ConfigValueFactory.fromAnyRef(modelDir));
        Params.checkKnown(given.root(), defaults.root(), block.path());
        return new StageSpec(name, trainer, StageParams.withPath(given, block.path()));
    }
}
