package org.distillery.eval;

import java.util.Map;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunResources;
import org.distillery.api.tensor.TensorService;

/**
 * The resources of an evaluation outside a run ({@code distill eval}, tests): the caller's tensor,
 * model and data services, its own run-scope manager (closed by {@link #close()}), the built-in
 * metrics as registry, and an event log that discards events.
 */
public final class EvalResources implements RunResources, AutoCloseable {

    private static final EventLog DISCARD = new EventLog() {
        @Override
        public void event(String type, Map<String, ?> fields) {
        }

        @Override
        public void step(long step, Map<String, ?> figures) {
        }
    };

    private final TensorService tensors;
    private final ModelService models;
    private final DataService data;
    private final long seed;
    private final NDManager manager;
    private final ContributionRegistry registry;

    /**
     * Creates the resources.
     *
     * @param data may be {@code null} when no metric reads files
     */
    public EvalResources(TensorService tensors, ModelService models, DataService data, long seed) {
        this(tensors, models, data, seed, EvalModule.registry());
    }

    /** Resources whose metrics come from {@code registry} (e.g. a kernel's, with the bundles' metrics). */
    public EvalResources(TensorService tensors, ModelService models, DataService data, long seed,
                         ContributionRegistry registry) {
        this.registry = registry;
        this.tensors = tensors;
        this.models = models;
        this.data = data;
        this.seed = seed;
        this.manager = tensors.newRunScope("eval");
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
    public EventLog events() {
        return DISCARD;
    }

    @Override
    public TensorService tensors() {
        return tensors;
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

    @Override
    public ContributionRegistry registry() {
        return registry;
    }

    /** Closes the run-scope manager (not the services). */
    @Override
    public void close() {
        manager.close();
    }
}
