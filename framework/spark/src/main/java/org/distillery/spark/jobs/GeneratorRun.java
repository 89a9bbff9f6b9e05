package org.distillery.spark.jobs;

import java.nio.file.Path;

import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunResources;
import org.distillery.api.tensor.TensorService;
import org.distillery.data.JsonlDataService;
import org.distillery.data.RunDatasets;

/**
 * What a data generator sees inside a Spark task: a work folder (its response cache), the seed and
 * the dataset service. Endpoint-driven generators (the quality filter) need nothing else; the
 * kernel's services (tensors, models, registry) do not exist in an executor and are refused with a
 * message saying so. This is the module's only implementation of the run API.
 */
final class GeneratorRun implements RunResources {

    private final Path dir;
    private final long seed;
    private final DataService data = new JsonlDataService();

    GeneratorRun(Path dir, long seed) {
        this.dir = dir;
        this.seed = seed;
    }

    /** The context a generator whose parameters are {@code params} runs in: datasets are plain files. */
    GeneratorContext context() {
        return new GeneratorContext(this, new RunDatasets(dir, ConfigFactory.empty(), data), dir, () -> false,
                "params");
    }

    @Override
    public EventLog events() {
        return EventLog.DISCARD; // the job prints its own progress
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
