package org.distillery.kdcore.internal;

import java.nio.file.Path;
import java.util.List;
import java.util.Random;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.tensor.TensorService;

/** A run with a manager and a seed, all a loss factory uses; the rest is not available in tests. */
final class TestRun implements RunContext {

    private final NDManager manager;
    private final long seed;

    TestRun(NDManager manager, long seed) {
        this.manager = manager;
        this.seed = seed;
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public long seed() {
        return seed;
    }

    @Override
    public Random random(String purpose) {
        return new Random(seed * 1_000_003L + purpose.hashCode());
    }

    @Override
    public String runId() {
        return "test";
    }

    @Override
    public Config config() {
        return ConfigFactory.empty();
    }

    @Override
    public boolean stopRequested() {
        return false;
    }

    @Override
    public List<SwapRequest> takeSwapRequests() {
        return List.of();
    }

    @Override
    public void acknowledgeSwap(SwapRequest request, String error) {
        throw new UnsupportedOperationException("no swaps in unit tests");
    }

    @Override
    public Path runDir() {
        throw new UnsupportedOperationException("no run directory in unit tests");
    }

    @Override
    public EventLog events() {
        throw new UnsupportedOperationException("no event log in unit tests");
    }

    @Override
    public TensorService tensors() {
        throw new UnsupportedOperationException("no tensor service in unit tests");
    }

    @Override
    public ContributionRegistry registry() {
        throw new UnsupportedOperationException("no registry in unit tests");
    }

    @Override
    public ModelService models() {
        throw new UnsupportedOperationException("no model service in unit tests");
    }

    @Override
    public DataService data() {
        throw new UnsupportedOperationException("no data service in unit tests");
    }
}
