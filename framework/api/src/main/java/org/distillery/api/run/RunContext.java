package org.distillery.api.run;

import java.nio.file.Path;
import java.util.List;

import com.typesafe.config.Config;

import org.distillery.api.data.Datasets;

/**
 * One run of an experiment, as its trainers see it: the run's resources plus its identity,
 * directory, resolved configuration, datasets and the operator's controls (stop, loss swaps).
 * Only trainers receive it; every other contribution gets the narrower context of its kind.
 */
public interface RunContext extends RunResources {

    /** The run's identifier, the name of its directory. */
    String runId();

    /** The run directory: resolved config, event log, checkpoints, results. */
    Path runDir();

    /** The whole resolved and validated experiment. */
    Config config();

    /** The experiment's datasets ({@code data.*}) and those earlier stages wrote. */
    Datasets datasets();

    /** True once an operator or a vanished contribution asked the run to stop. */
    boolean stopRequested();

    /** Loss swaps requested by an operator since the last call; the trainer applies them at the step boundary. */
    List<SwapRequest> takeSwapRequests();

    /** Reports the outcome of a swap request to whoever asked ({@code null} error means applied). */
    void acknowledgeSwap(SwapRequest request, String error);
}
