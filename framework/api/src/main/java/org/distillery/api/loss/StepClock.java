package org.distillery.api.loss;

/**
 * Where the stage's optimisation is, for a loss whose terms follow a schedule over training (e.g. a
 * hidden-state term that fades toward logit-only KD). The trainer advances it before each step and
 * restores it on resume, so a resumed run follows the same schedule.
 */
public interface StepClock {

    /** No training: step 0 of 0 (benchmarks, evaluation, tests); a schedule stays at its start. */
    StepClock NONE = fixed(0, 0);

    /** The optimisation step being computed, from 0. */
    long step();

    /** The stage's number of steps, or 0 when unknown. */
    long totalSteps();

    /**
     * The fraction of {@code span} steps done, clipped to [0, 1]; {@code span <= 0} means the stage's
     * steps. 0 when neither is known.
     */
    default double fraction(long span) {
        long over = span > 0 ? span : totalSteps();
        return over <= 0 ? 0 : Math.min(1.0, Math.max(0.0, (double) step() / over));
    }

    /** A clock that stays at {@code step} of {@code totalSteps}. */
    static StepClock fixed(long step, long totalSteps) {
        return new StepClock() {
            @Override
            public long step() {
                return step;
            }

            @Override
            public long totalSteps() {
                return totalSteps;
            }
        };
    }
}
