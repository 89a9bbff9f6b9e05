package org.distillery.api.train;

import org.distillery.api.run.RunContext;

/** One stage of a method. */
public interface Trainer {

    /**
     * Runs the stage to completion or until the run is asked to stop.
     *
     * @param run the run
     * @param stage this stage's name and validated parameters
     * @return what the stage produced
     */
    StageResult run(RunContext run, StageSpec stage) throws Exception;
}
