package org.distillery.eval;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunResources;
import org.distillery.api.tensor.TensorService;

/**
 * The resources of work outside a run ({@code distill eval}, {@code distill merge}, benchmarks,
 * tests): the caller's tensor, model and data services, a run scope of its own (closed by
 * {@link #close()}), a registry (the built-in metrics, or a kernel's), a seed, and an event log
 * that discards events (the command prints what it reports).
 */
public final class EvalResources implements RunResources, AutoCloseable {

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
        this(tensors, models, data, seed, registry, "eval");
    }

    /** Resources whose run scope is named {@code scope} (e.g. {@code merge}, {@code bench}). */
    public EvalResources(TensorService tensors, ModelService models, DataService data, long seed,
                         ContributionRegistry registry, String scope) {
        this.registry = registry;
        this.tensors = tensors;
        this.models = models;
        this.data = data;
        this.seed = seed;
        this.manager = tensors.newRunScope(scope);
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
        return EventLog.DISCARD;
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
