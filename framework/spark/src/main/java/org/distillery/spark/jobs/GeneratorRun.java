package org.distillery.spark.jobs;

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
import org.distillery.data.JsonlDataService;

/**
 * The run a data generator sees inside a Spark task: a work folder (its response cache), the
 * seed and the dataset service. Endpoint-driven generators (the quality filter) need nothing
 * else; the kernel's services (tensors, models, registry) do not exist in an executor and are
 * refused with a message saying so. This is the module's only implementation of the run API.
 */
final class GeneratorRun implements RunContext {

    private static final EventLog NO_EVENTS = new EventLog() {
        @Override
        public void event(String type, Map<String, ?> fields) {
            // a generator's progress events have no run log here; the job prints its own progress
        }

        @Override
        public void step(long step, Map<String, ?> figures) {
            // no training steps in a generator
        }
    };

    private final Path dir;
    private final long seed;
    private final DataService data = new JsonlDataService();

    GeneratorRun(Path dir, long seed) {
        this.dir = dir;
        this.seed = seed;
    }

    @Override
    public String runId() {
        return dir.getFileName().toString();
    }

    @Override
    public Path runDir() {
        return dir;
    }

    @Override
    public Config config() {
        return ConfigFactory.empty();
    }

    @Override
    public EventLog events() {
        return NO_EVENTS;
    }

    @Override
    public NDManager manager() {
        throw unavailable("a tensor manager");
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
        // no swaps outside a training run
    }

    @Override
    public TensorService tensors() {
        throw unavailable("the tensor service");
    }

    @Override
    public ContributionRegistry registry() {
        throw unavailable("the contribution registry");
    }

    @Override
    public ModelService models() {
        throw unavailable("the model service");
    }

    @Override
    public DataService data() {
        return data;
    }

    private static UnsupportedOperationException unavailable(String what) {
        return new UnsupportedOperationException(what + " is not available to a generator run by distill spark "
                + "(only endpoint-driven generators such as data.quality-filter run there)");
    }
}
