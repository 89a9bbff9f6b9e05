package org.distillery.api.loss;

import java.util.Optional;
import java.util.Random;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.run.RunResources;

/**
 * What a loss may use when it is built: a manager for learned parameters it creates now (so a
 * resumed run restores them), a seed for their initialisation, the registry to compose other
 * losses by key, the shapes of the models it compares, and the stage's step clock.
 *
 * @param manager the run's long-lived manager, for learned parameters
 * @param seed the experiment seed
 * @param registry the contribution registry
 * @param student the student's configuration
 * @param teacher the teacher's configuration, or {@code null} when the teacher is not a local
 *     model (cached or remote) or there is none
 * @param paramsPath where the loss's parameters were written (e.g. {@code train.loss[1].params}),
 *     for messages
 * @param clock where the stage's optimisation is, for losses that follow a schedule
 *     ({@link StepClock#NONE} outside training)
 */
public record LossContext(NDManager manager, long seed, ContributionRegistry registry, ModelConfig student,
                          ModelConfig teacher, String paramsPath, StepClock clock) {

    /** Never a {@code null} clock. */
    public LossContext {
        clock = clock == null ? StepClock.NONE : clock;
    }

    /** A context outside training (no step clock): benchmarks, evaluation, tests. */
    public LossContext(NDManager manager, long seed, ContributionRegistry registry, ModelConfig student,
                       ModelConfig teacher, String paramsPath) {
        this(manager, seed, registry, student, teacher, paramsPath, StepClock.NONE);
    }

    /** A random generator derived from the seed and {@code purpose}, as {@link RunResources#random} makes it. */
    public Random random(String purpose) {
        return RunResources.seeded(seed, purpose);
    }

    /** The teacher's configuration, when it is a local model. */
    public Optional<ModelConfig> teacherConfig() {
        return Optional.ofNullable(teacher);
    }
}
