package org.distillery.api.train;

import org.distillery.api.run.RunContext;

/** Runs one stage of a method. */
public interface Trainer {
    /**
     * Runs the stage to completion or until the run is asked to stop.
     *
     * @param run the run
     * @param stage this stage, as its method built it (resolved against the experiment for a {@link KdStage})
     * @return what the stage produced
     */
    StageResult run(RunContext run, Stage stage) throws Exception;
}
