package org.distillery.api.run;

import java.nio.file.Path;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.tensor.TensorService;

/** One run of an experiment, as its stages and contributions see it. */
public interface RunContext {

    /** The run's identifier, the name of its directory. */
    String runId();

    /** The run directory: resolved config, event log, checkpoints, results. */
    Path runDir();

    /** The whole resolved and validated experiment. */
    Config config();

    /** The run's event log. */
    EventLog events();

    /** The run's long-lived manager, closed when the run ends. */
    NDManager manager();

    /** The experiment seed. */
    long seed();

    /** A random generator derived from the seed and {@code purpose}, the same in every run with that seed. */
    Random random(String purpose);

    /** True once an operator or a vanished contribution asked the run to stop. */
    boolean stopRequested();

    /** Loss swaps requested by an operator since the last call; the trainer applies them at the step boundary. */
    java.util.List<SwapRequest> takeSwapRequests();

    /** Reports the outcome of a swap request to whoever asked ({@code null} error means applied). */
    void acknowledgeSwap(SwapRequest request, String error);

    /** The shared tensor service. */
    TensorService tensors();

    /** The contribution registry. */
    ContributionRegistry registry();

    /** Model loading and saving. */
    ModelService models();

    /** Dataset reading and writing. */
    DataService data();
}
