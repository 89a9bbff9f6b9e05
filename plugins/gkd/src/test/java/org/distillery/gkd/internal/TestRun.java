package org.distillery.gkd.internal;

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
import org.distillery.models.HfModelService;
import org.distillery.tensor.DjlTensorService;

/** A run for the sampler tests: real tensor, model and data services, a config, a seed; no registry. */
final class TestRun implements RunContext, AutoCloseable {

    private final DjlTensorService tensors = DjlTensorService.start("cpu");
    private final NDManager manager = tensors.newRunScope("gkd-test");
    private final ModelService models = new HfModelService();
    private final DataService data = new JsonlDataService();
    private final Config config;
    private final Path dir;

    TestRun(Path dir, String hocon) {
        this.dir = dir;
        this.config = ConfigFactory.parseString(hocon).resolve();
    }

    @Override
    public String runId() {
        return "gkd-test";
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
        return config.getLong("experiment.seed");
    }

    @Override
    public Random random(String purpose) {
        return new Random(seed() * 1_000_003L + purpose.hashCode());
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
        throw new UnsupportedOperationException("no registry in the sampler tests");
    }

    @Override
    public ModelService models() {
        return models;
    }

    @Override
    public DataService data() {
        return data;
    }

    @Override
    public void close() {
        manager.close();
        tensors.close();
    }
}
