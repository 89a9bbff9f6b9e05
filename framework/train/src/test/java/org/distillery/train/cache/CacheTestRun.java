package org.distillery.train.cache;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.tensor.TensorService;
import org.distillery.data.JsonlDataService;
import org.distillery.models.HfModelService;

/** A minimal run context over shared services (a trimmed copy of the train package's TestRun). */
final class CacheTestRun implements RunContext {

    final List<Map<String, ?>> events = new ArrayList<>();
    private final Path dir;
    private final Config config;
    private final TensorService tensors;
    private final NDManager manager;
    private final ModelService models = new HfModelService();
    private final DataService data = new JsonlDataService();

    CacheTestRun(Path dir, Config config, TensorService tensors, NDManager manager) {
        this.dir = dir;
        this.config = config.resolve();
        this.tensors = tensors;
        this.manager = manager;
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
        return config;
    }

    @Override
    public EventLog events() {
        return new EventLog() {
            @Override
            public void event(String type, Map<String, ?> fields) {
                events.add(Map.of("type", type, "fields", fields));
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
        return 1;
    }

    @Override
    public Random random(String purpose) {
        return new Random(purpose.hashCode());
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
        return new ContributionRegistry() {
            @Override
            public <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> type) {
                return Optional.empty();
            }

            @Override
            public List<ContributionInfo> list(ContributionKind kind) {
                return List.of();
            }
        };
    }

    @Override
    public ModelService models() {
        return models;
    }

    @Override
    public DataService data() {
        return data;
    }
}
