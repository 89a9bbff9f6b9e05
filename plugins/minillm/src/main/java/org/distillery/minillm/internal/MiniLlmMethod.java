package org.distillery.minillm.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageSpec;

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
    public List<StageSpec> stages(Config params) {
        List<StageSpec> stages = new ArrayList<>();
        boolean sft = !params.getBoolean("skip-sft");
        if (sft) {
            Config base = ConfigFactory.parseMap(Map.of(
                    "loss", List.of(Map.of("key", "kd.sft", "weight", 1.0)),
                    "sampler", Map.of("key", "data.dataset"),
                    "select-metric", "val.loss",
                    "select-metric-key", "",
                    "select-best", true,
                    "init-from-stage", ""));
            stages.add(new StageSpec("sft", "train.kd", overrides(params, "sft").withFallback(base)));
        }
        double lmCoef = params.getDouble("lm-coef");
        if (!(lmCoef >= 0) || Double.isInfinite(lmCoef)) {
            throw new InvalidConfigException("method.params.lm-coef", "must not be negative", String.valueOf(lmCoef),
                    ">= 0");
        }
        Config base = ConfigFactory.parseMap(Map.of(
                "loss", List.of(
                        Map.of("key", PolicyGradientLoss.KEY, "weight", 1.0),
                        Map.of("key", SingleStepLoss.KEY, "weight", 1.0),
                        Map.of("key", PretrainLoss.KEY, "weight", lmCoef)),
                "sampler", Map.of("key", RolloutSampler.KEY),
                "select-metric", "rouge-l",
                "select-metric-key", "eval.rouge-l",
                "select-best", true,
                "init-from-stage", sft ? "sft" : ""));
        stages.add(new StageSpec("minillm", "train.kd", overrides(params, "minillm").withFallback(base)));
        Config eval = params.getConfig("evaluate").withValue("students",
                ConfigValueFactory.fromIterable(stages.stream().map(StageSpec::name).toList()));
        stages.add(new StageSpec("evaluate", "eval.report", eval));
        return stages;
    }

    /** The overrides of a stage's train block: an object, or null (the default) for none. */
    private static Config overrides(Config params, String stage) {
        if (!params.hasPathOrNull(stage) || params.getIsNull(stage)) {
            return ConfigFactory.empty();
        }
        if (params.getValue(stage).valueType() != ConfigValueType.OBJECT) {
            throw new InvalidConfigException("method.params." + stage, "must be an object of train settings",
                    params.getValue(stage).render(), "e.g. { steps = 200, lr = 5e-6 }");
        }
        // a copy: an object merged over the null default ignores any further fallback (Typesafe
        // Config's rule), which would drop the stage's own settings below
        return ConfigFactory.parseMap(params.getConfig(stage).root().unwrapped(), "method.params." + stage);
    }
}
