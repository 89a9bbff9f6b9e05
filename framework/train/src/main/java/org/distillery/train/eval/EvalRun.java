package org.distillery.train.eval;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
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

/**
 * A run context for evaluating outside a run ({@code distill eval}, tests): the caller's tensor,
 * model and data services, its own run-scope manager (closed by {@link #close()}), a registry
 * holding the built-in metrics, and an event log that discards events.
 */
public final class EvalRun implements RunContext, AutoCloseable {

    private final Path dir;
    private final TensorService tensors;
    private final ModelService models;
    private final DataService data;
    private final long seed;
    private final NDManager manager;
    private final Config config;

    /**
     * Creates the context.
     *
     * @param dir folder named as the run directory (nothing is written there by the context)
     * @param data may be {@code null} when no metric reads files
     */
    public EvalRun(Path dir, TensorService tensors, ModelService models, DataService data, long seed) {
        this.dir = dir;
        this.tensors = tensors;
        this.models = models;
        this.data = data;
        this.seed = seed;
        this.config = ConfigFactory.parseMap(Map.of("experiment.seed", seed, "experiment.name", "eval"));
        this.manager = tensors.newRunScope("eval");
    }

    @Override
    public String runId() {
        return dir.getFileName() == null ? "eval" : dir.getFileName().toString();
    }

    @Override
    public Path runDir() {
        return dir;
    }

    @Override
    public Config config() {
        return config;
    }

    @Override
    public EventLog events() {
        return new EventLog() {
            @Override
            public void event(String type, Map<String, ?> fields) {
            }

            @Override
            public void step(long step, Map<String, ?> figures) {
            }
        };
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
        return new Random(seed * 31 + purpose.hashCode());
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
    }

    @Override
    public TensorService tensors() {
        return tensors;
    }

    @Override
    public ContributionRegistry registry() {
        return EvalContributions.registry();
    }

    @Override
    public ModelService models() {
        return models;
    }

    @Override
    public DataService data() {
        if (data == null) {
            throw new IllegalStateException("this evaluation has no data service");
        }
        return data;
    }

    /** Closes the run-scope manager (not the services). */
    @Override
    public void close() {
        manager.close();
    }
}
