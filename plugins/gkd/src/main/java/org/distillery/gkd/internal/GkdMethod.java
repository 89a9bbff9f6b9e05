package org.distillery.gkd.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code gkd.recipe}: the GKD recipe as stages of the built-in trainers.
 * <ol>
 *   <li>{@code sft} ({@code train.kd}, {@code kd.sft} on the dataset): the student's warm start;
 *       skipped when {@code sft-steps = 0}.</li>
 *   <li>{@code gkd} ({@code train.kd} from the SFT student, sampler {@code gkd.on-policy}, the
 *       divergence in {@code loss}, by default {@code kd.jsd} with β = 0.5).</li>
 *   <li>optionally {@code offline} (with {@code offline-baseline = true}): the same loss and
 *       steps from the same SFT student on dataset responses only (λ = 0), for comparison.</li>
 *   <li>{@code evaluate} ({@code eval.report}): every student and the teacher.</li>
 * </ol>
 * Every other setting of the two training stages comes from the experiment's {@code train}
 * block; {@code steps} and {@code lr} of each stage may be set here (0 keeps the block's).
 *
 * <pre>
 * method {
 *   key = gkd.recipe
 *   params { sft-steps = 300, steps = 200, lambda = 0.5, loss = [ { key = kd.jsd, params { beta = 0.5 } } ] }
 * }
 * </pre>
 */
final class GkdMethod implements MethodFactory {

    /** Registry key. */
    static final String KEY = "gkd.recipe";

    @Override
    public String description() {
        return "SFT warm start, then GKD (gkd.on-policy sampler, kd.jsd by default), then eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        long sftSteps = p.longInteger("sft-steps", 0);
        long steps = p.longInteger("steps", 0);
        double sftLr = p.nonNegative("sft-lr");
        double lr = p.nonNegative("lr");
        List<LossSpec> loss = p.losses("loss");
        if (loss.isEmpty()) {
            throw new InvalidConfigException(p.at("loss"), "needs at least one term", "[]",
                    "a list of {key, weight, params}, e.g. [ { key = kd.jsd, params { beta = 0.5 } } ]");
        }
        // ranges checked now, when the experiment is validated, not when the gkd stage starts after SFT
        OnPolicySampler.Settings.of(Params.of(p.child("sampler").config().withFallback(samplerDefaults()),
                p.at("sampler")));
        ContributionRef onPolicy = new ContributionRef(OnPolicySampler.KEY, p.child("sampler").config());
        List<Stage> stages = new ArrayList<>();
        if (sftSteps > 0) {
            stages.add(KdStage.named("sft").withLoss(List.of(LossSpec.of("kd.sft")))
                    .withSampler(ContributionRef.of("data.dataset")).withTrain(train(sftSteps, sftLr)));
        }
        KdStage gkd = KdStage.named("gkd").withLoss(loss).withTrain(train(steps, lr));
        if (sftSteps > 0) {
            gkd = gkd.withInitFrom("sft");
        }
        stages.add(gkd.withSampler(onPolicy));
        if (p.bool("offline-baseline")) {
            stages.add(new KdStage("offline", gkd.loss(), ContributionRef.of("data.dataset"), gkd.initFrom(),
                    gkd.train(), gkd.student(), gkd.teacher(), ""));
        }
        stages.add(Stages.evaluate(params.getConfig("evaluate"), stages.stream().map(Stage::name).toList()));
        return stages;
    }

    /** The train overrides of a stage: its steps and learning rate where set (0 keeps the block's). */
    private static Config train(long steps, double lr) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (steps > 0) {
            m.put("steps", steps);
        }
        if (lr > 0) {
            m.put("lr", lr);
        }
        return ConfigFactory.parseMap(m);
    }

    /** The sampler's defaults from this bundle's {@code reference.conf}. */
    private static Config samplerDefaults() {
        ClassLoader loader = GkdMethod.class.getClassLoader();
        return ConfigFactory.parseResources(loader, "reference.conf")
                .getConfig("distillery.samplers.\"" + OnPolicySampler.KEY + "\"");
    }
}
