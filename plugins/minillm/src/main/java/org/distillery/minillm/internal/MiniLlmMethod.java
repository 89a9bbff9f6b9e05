package org.distillery.minillm.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code minillm.recipe}: the MiniLLM recipe (Gu et al., arXiv 2306.08543, Algorithm 1) as stages
 * of the built-in trainers. (Bundle keys must be dotted, hence not plain {@code minillm}.)
 *
 * <ol>
 *   <li>{@code sft}: {@code train.kd} with {@code kd.sft} on the instruction data, keeping the
 *       checkpoint with the lowest validation loss (θ_0; skipped with {@code skip-sft}, then the
 *       student block gives θ_0, e.g. an SFT checkpoint in {@code student.model-dir});</li>
 *   <li>{@code minillm}: {@code train.kd} from the sft stage's student with sampler
 *       {@code minillm.rollout} and the terms {@code minillm.pg} + {@code minillm.single-step} +
 *       {@code lm-coef}·{@code minillm.pt}, keeping the checkpoint with the best validation
 *       Rouge-L;</li>
 *   <li>{@code evaluate}: {@code eval.report} of the teacher and both students on the test split.</li>
 * </ol>
 * {@code sft} and {@code minillm} take overrides of their {@code train} block (any train key);
 * rollout settings belong in {@code minillm.sampler.params}, so that they do not reach the sft
 * stage's sampler.
 *
 * <pre>
 * method {
 *   key = minillm.recipe
 *   params {
 *     sft { steps = 300, lr = 1e-3 }
 *     minillm { steps = 200, lr = 5e-6, sampler.params { rollout-size = 256, pt-file = ... } }
 *   }
 * }
 * </pre>
 */
final class MiniLlmMethod implements MethodFactory {

    /** Registry key. */
    static final String KEY = "minillm.recipe";

    @Override
    public String description() {
        return "MiniLLM: SFT warm start (best val.loss), reverse-KL policy gradient with rollouts (best Rouge-L), "
                + "eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        List<Stage> stages = new ArrayList<>();
        boolean sft = !p.bool("skip-sft");
        if (sft) {
            KdStage base = KdStage.named("sft").withLoss(List.of(LossSpec.of("kd.sft")))
                    .withSampler(ContributionRef.of("data.dataset")).withInitFrom("")
                    .withTrain(ConfigFactory.parseMap(Map.of("select-metric", "val.loss", "select-metric-key", "",
                            "select-best", true)));
            stages.add(overrides(p, "sft", base));
        }
        double lmCoef = p.nonNegative("lm-coef");
        KdStage base = KdStage.named("minillm")
                .withLoss(List.of(LossSpec.of(PolicyGradientLoss.KEY), LossSpec.of(SingleStepLoss.KEY),
                        new LossSpec(PretrainLoss.KEY, lmCoef, ConfigFactory.empty())))
                .withSampler(ContributionRef.of(RolloutSampler.KEY)).withInitFrom(sft ? "sft" : "")
                .withTrain(ConfigFactory.parseMap(Map.of("select-metric", "rouge-l", "select-metric-key", "eval.rouge-l",
                        "select-best", true)));
        stages.add(overrides(p, "minillm", base));
        stages.add(Stages.evaluate(params.getConfig("evaluate"), stages.stream().map(Stage::name).toList()));
        return stages;
    }

    /** {@code base} with the stage's overrides of its train block (an object, or null, the default, for none). */
    private static KdStage overrides(Params p, String stage, KdStage base) {
        Config params = p.config();
        if (!params.hasPathOrNull(stage) || params.getIsNull(stage)) {
            return base;
        }
        if (params.getValue(stage).valueType() != ConfigValueType.OBJECT) {
            throw new InvalidConfigException(p.at(stage), "must be an object of train settings",
                    params.getValue(stage).render(), "e.g. { steps = 200, lr = 5e-6 }");
        }
        // a copy: an object merged over the null default ignores any further fallback (Typesafe
        // Config's rule), which would drop the stage's own settings below
        Config own = ConfigFactory.parseMap(params.getConfig(stage).root().unwrapped(), p.at(stage));
        return Stages.overTrain(base, Params.of(own, p.at(stage)));
    }
}
