package org.distillery.train;

import java.util.List;

import com.typesafe.config.Config;

import org.distillery.api.ContributionRef;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.Stage;

/**
 * A {@link KdStage} resolved against the experiment by {@link KdStages#resolve}: what the
 * {@code train.kd} trainer runs. The kernel resolves each stage once, checks the result like the
 * experiment itself and hands it to the trainer.
 *
 * @param stage the stage as its method built it
 * @param experiment the experiment as the stage sees it: its {@code train} block with the stage's
 *     overrides, its {@code student} and {@code teacher} blocks with the stage's laid over them
 * @param settings the optimisation settings, read from that {@code train} block
 * @param loss the loss terms (the stage's, else the experiment's)
 * @param sampler the sampler (the stage's, else the experiment's)
 * @param initFrom the earlier stage whose model the student starts from, {@code ""} for the student block
 * @param trainable prefixes of the student parameters that train (the stage's, else the experiment's
 *     {@code train.trainable}); empty trains every parameter
 */
public record ResolvedKdStage(KdStage stage, Config experiment, TrainSettings settings, List<LossSpec> loss,
                              ContributionRef sampler, String initFrom, List<String> trainable) implements Stage {

    @Override
    public String name() {
        return stage.name();
    }

    @Override
    public String trainer() {
        return stage.trainer();
    }
}
