package org.distillery.train;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.kit.config.Params;

/**
 * The one place a {@link KdStage} meets the experiment: its {@code train} overrides, loss terms,
 * sampler, starting point and trainable parameters are laid over the experiment's {@code train}
 * block, its {@code student} and {@code teacher} blocks over the experiment's, and the result is
 * read once.
 */
public final class KdStages {

    private KdStages() {
    }

    /**
     * Resolves {@code stage} against {@code experiment} (resolved, defaults merged).
     *
     * @throws InvalidConfigException for a missing loss term key, an empty loss list or an out-of-range setting
     */
    public static ResolvedKdStage resolve(Config experiment, KdStage stage) {
        Config train = stage.train().withFallback(experiment.getConfig("train"));
        Params block = Params.of(train, "train");
        List<LossSpec> loss = stage.loss().isEmpty() ? block.losses("loss") : stage.loss();
        if (loss.isEmpty()) {
            throw new InvalidConfigException("train.loss", "needs at least one term", "[]",
                    "a list of {key, weight, params}");
        }
        ContributionRef sampler = stage.sampler() != null ? stage.sampler() : block.contribution("sampler");
        String initFrom = stage.initFrom() != null ? stage.initFrom() : train.getString("init-from-stage");
        List<String> trainable = !stage.trainable().isEmpty() ? stage.trainable() : train.getStringList("trainable");
        for (String prefix : trainable) {
            if (prefix.isEmpty()) {
                throw new InvalidConfigException("train.trainable", "has an empty prefix", trainable.toString(),
                        "prefixes of parameter names, e.g. [model.multi_modal_projector.]");
            }
        }
        Config resolvedTrain = train
                .withValue("loss", ConfigValueFactory.fromIterable(loss.stream().map(t -> java.util.Map.of(
                        "key", t.key(), "weight", t.weight(), "params", t.params().root().unwrapped())).toList()))
                .withValue("sampler", ConfigValueFactory.fromMap(java.util.Map.of("key", sampler.key(),
                        "params", sampler.params().root().unwrapped())))
                .withValue("init-from-stage", ConfigValueFactory.fromAnyRef(initFrom))
                .withValue("trainable", ConfigValueFactory.fromIterable(trainable));
        Config effective = experiment.withValue("train", resolvedTrain.root())
                .withValue("student", stage.student().withFallback(experiment.getConfig("student")).root())
                .withValue("teacher", stage.teacher().withFallback(experiment.getConfig("teacher")).root());
        return new ResolvedKdStage(stage, effective, TrainSettings.of(resolvedTrain), loss, sampler, initFrom,
                List.copyOf(trainable));
    }
}
