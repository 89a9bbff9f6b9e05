package org.distillery.kernel.cli;

import java.util.Map;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunResources;
import org.distillery.api.tensor.TensorService;
import org.distillery.kernel.Kernel;

/**
 * What a command that uses contributions outside a run ({@code distill merge}, {@code distill bench merge})
 * lends them: the kernel's services and registry, a run scope of its own (closed by {@link #close()}), a
 * seed, and an event log that discards events (the command prints what it reports).
 */
final class CommandResources implements RunResources, AutoCloseable {

    private static final EventLog DISCARD = new EventLog() {
        @Override
        public void event(String type, Map<String, ?> fields) {
        }

        @Override
        public void step(long step, Map<String, ?> figures) {
        }
    };

    private final Kernel kernel;
    private final NDManager manager;
    private final long seed;

    CommandResources(Kernel kernel, String scope, long seed) {
        this.kernel = kernel;
        this.manager = kernel.tensors().newRunScope(scope);
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
    public EventLog events() {
        return DISCARD;
    }

    @Override
    public TensorService tensors() {
        return kernel.tensors();
    }

    @Override
    public ModelService models() {
        return kernel.models();
    }

    @Override
    public DataService data() {
        return kernel.data();
    }

    @Override
    public ContributionRegistry registry() {
        return kernel.registry();
    }

    @Override
    public void close() {
        manager.close();
    }
}
