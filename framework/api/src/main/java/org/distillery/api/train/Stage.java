package org.distillery.api.train;

/**
 * One stage of a method: a name unique in the run (its checkpoints and results live under
 * {@code stages/<name>/}) and the registry key of the trainer that runs it. Methods build
 * {@link KdStage}s for supervised and on-policy distillation (the built-in {@code train.kd}
 * trainer) and {@link StageSpec}s for trainers that take their own parameters.
 */
public interface Stage {

    /** The stage name, unique in the run. */
    String name();

    /** The registry key of the trainer that runs the stage. */
    String trainer();
}
