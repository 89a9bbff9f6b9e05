package org.distillery.rlkd.internal;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigValueFactory;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/** What this bundle's methods share: optional blocks, data stages checked against their trainer's defaults. */
final class Methods {

    private static final Config REFERENCE = ConfigFactory.parseResources(Methods.class.getClassLoader(),
            "reference.conf", ConfigParseOptions.defaults().setClassLoader(Methods.class.getClassLoader())).resolve();

    private Methods() {
    }

    /** The defaults of this bundle's trainer {@code key}. */
    static Config trainerDefaults(String key) {
        String path = "distillery.trainers.\"" + key + "\"";
        return REFERENCE.hasPath(path) ? REFERENCE.getConfig(path) : ConfigFactory.empty();
    }

    /**
     * The object {@code key} of {@code p}, as a fresh block (an object merged over a null default
     * ignores any later fallback, Typesafe Config's rule), or an empty block when it is null or absent.
     */
    static Params block(Params p, String key) {
        Config params = p.config();
        if (!params.hasPathOrNull(key) || params.getIsNull(key)) {
            return Params.of(ConfigFactory.empty(), p.at(key));
        }
        if (params.getValue(key).valueType() != ConfigValueType.OBJECT) {
            throw new InvalidConfigException(p.at(key), "must be an object", params.getValue(key).render(),
                    "e.g. { steps = 200 }");
        }
        return Params.of(ConfigFactory.parseMap(params.getConfig(key).root().unwrapped(), p.at(key)), p.at(key));
    }

    /** {@code base} with the train overrides in {@code block} (any train key, loss, sampler, init-from-stage). */
    static KdStage overTrain(KdStage base, Params block) {
        return block.config().isEmpty() ? base : Stages.overTrain(base, block);
    }

    /**
     * A data stage of trainer {@code trainer} with {@code params}: unknown keys fail now (at {@code
     * params}'s path) for this bundle's trainers; reward lists and pools are checked for shape; the
     * stage remembers the path for messages at run time.
     */
    static StageSpec dataStage(String name, String trainer, Params params) {
        Config defaults = trainerDefaults(trainer);
        if (!defaults.isEmpty()) {
            Params.checkKnown(params.config().root(), defaults.root(), params.path());
            Params merged = Params.of(params.config().withFallback(defaults), params.path());
            if (trainer.equals(TracesTrainer.KEY)) {
                RewardSet.specs(merged, "verifiers", false);
                merged.integer("tries", 1);
                merged.choice("keep", "first", "all");
            } else if (trainer.equals(AifTrainer.KEY)) {
                RewardSet.specs(merged, "rewards", false);
                AifTrainer.checkPool(merged);
                merged.integer("completions", 2);
            }
        }
        return new StageSpec(name, trainer, params.config().withValue(StageSupport.CONFIG_PATH,
                ConfigValueFactory.fromAnyRef(params.path())));
    }
}
