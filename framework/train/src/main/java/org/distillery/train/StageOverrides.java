package org.distillery.train;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.tensor.TensorService;

/**
 * A stage's own {@code student} and {@code teacher} blocks ({@code train.overrides}, set by a
 * {@code kd.compare} variant): the stage sees the run with those blocks laid over the
 * experiment's, everything else unchanged.
 */
public final class StageOverrides {

    /** The stage parameter holding the overrides. */
    public static final String PATH = "overrides";

    private StageOverrides() {
    }

    /** {@code run} as the stage sees it: its config with {@code stageParams.overrides} over it, if any. */
    public static RunContext apply(RunContext run, Config stageParams) {
        if (!stageParams.hasPath(PATH) || stageParams.getConfig(PATH).isEmpty()) {
            return run;
        }
        Config config = stageParams.getConfig(PATH).withFallback(run.config());
        return new RunContext() {
            @Override
            public String runId() {
                return run.runId();
            }

            @Override
            public Path runDir() {
                return run.runDir();
            }

            @Override
            public Config config() {
                return config;
            }

            @Override
            public EventLog events() {
                return run.events();
            }

            @Override
            public NDManager manager() {
                return run.manager();
            }

            @Override
            public long seed() {
                return run.seed();
            }

            @Override
            public Random random(String purpose) {
                return run.random(purpose);
            }

            @Override
            public boolean stopRequested() {
                return run.stopRequested();
            }

            @Override
            public List<SwapRequest> takeSwapRequests() {
                return run.takeSwapRequests();
            }

            @Override
            public void acknowledgeSwap(SwapRequest request, String error) {
                run.acknowledgeSwap(request, error);
            }

            @Override
            public TensorService tensors() {
                return run.tensors();
            }

            @Override
            public ContributionRegistry registry() {
                return run.registry();
            }

            @Override
            public ModelService models() {
                return run.models();
            }

            @Override
            public DataService data() {
                return run.data();
            }
        };
    }
}
