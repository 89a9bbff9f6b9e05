package org.distillery.gkd.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageSpec;

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

    private static final String PARAMS = "method.params.";

    @Override
    public String description() {
        return "SFT warm start, then GKD (gkd.on-policy sampler, kd.jsd by default), then eval.report";
    }

    @Override
    public List<StageSpec> stages(Config p) {
        long sftSteps = atLeast(p, "sft-steps", 0);
        long steps = atLeast(p, "steps", 0);
        double sftLr = nonNegative(p, "sft-lr");
        double lr = nonNegative(p, "lr");
        if (p.getList("loss").isEmpty()) {
            throw new InvalidConfigException(PARAMS + "loss", "needs at least one term", "[]",
                    "a list of {key, weight, params}, e.g. [ { key = kd.jsd, params { beta = 0.5 } } ]");
        }
        Config sampler = ConfigFactory.empty()
                .withValue("key", ConfigValueFactory.fromAnyRef(OnPolicySampler.KEY))
                .withValue("params", p.getValue("sampler"));
        // ranges checked now, when the experiment is validated, not when the gkd stage starts after SFT
        OnPolicySampler.Settings.of(p.getConfig("sampler").withFallback(samplerDefaults()), PARAMS + "sampler.");
        List<StageSpec> stages = new ArrayList<>();
        List<String> students = new ArrayList<>();
        if (sftSteps > 0) {
            Map<String, Object> sft = new LinkedHashMap<>();
            sft.put("steps", sftSteps);
            if (sftLr > 0) {
                sft.put("lr", sftLr);
            }
            sft.put("loss", List.of(Map.of("key", "kd.sft")));
            sft.put("sampler", Map.of("key", "data.dataset"));
            stages.add(new StageSpec("sft", "train.kd", ConfigValueFactory.fromMap(sft).toConfig()));
            students.add("sft");
        }
        Config gkd = trainStage(p, steps, lr, sftSteps > 0).withValue("sampler", sampler.root());
        stages.add(new StageSpec("gkd", "train.kd", gkd));
        students.add("gkd");
        if (p.getBoolean("offline-baseline")) {
            Config offline = trainStage(p, steps, lr, sftSteps > 0)
                    .withValue("sampler", ConfigValueFactory.fromMap(Map.of("key", "data.dataset")));
            stages.add(new StageSpec("offline", "train.kd", offline));
            students.add("offline");
        }
        stages.add(new StageSpec("evaluate", "eval.report",
                p.getConfig("evaluate").withValue("students", ConfigValueFactory.fromIterable(students))));
        return stages;
    }

    private static Config trainStage(Config p, long steps, double lr, boolean fromSft) {
        Map<String, Object> m = new LinkedHashMap<>();
        if (steps > 0) {
            m.put("steps", steps);
        }
        if (lr > 0) {
            m.put("lr", lr);
        }
        if (fromSft) {
            m.put("init-from-stage", "sft");
        }
        return ConfigValueFactory.fromMap(m).toConfig().withValue("loss", p.getValue("loss"));
    }

    /** The sampler's defaults from this bundle's {@code reference.conf}. */
    private static Config samplerDefaults() {
        ClassLoader loader = GkdMethod.class.getClassLoader();
        return ConfigFactory.parseResources(loader, "reference.conf")
                .getConfig("distillery.samplers.\"" + OnPolicySampler.KEY + "\"");
    }

    private static long atLeast(Config p, String key, long min) {
        long v = p.getLong(key);
        if (v < min) {
            throw new InvalidConfigException(PARAMS + key, "too small", String.valueOf(v), ">= " + min);
        }
        return v;
    }

    private static double nonNegative(Config p, String key) {
        double v = p.getDouble(key);
        if (!(v >= 0) || Double.isInfinite(v)) {
            throw new InvalidConfigException(PARAMS + key, "must not be negative", String.valueOf(v),
                    ">= 0 (0 = the train block's)");
        }
        return v;
    }
}
