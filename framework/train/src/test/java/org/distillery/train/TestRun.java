package org.distillery.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionFactory;
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
import org.distillery.tensor.DjlTensorService;

/** A run context for unit tests: real services, an in-memory registry and event list. */
final class TestRun implements RunContext, AutoCloseable {

    final List<Map<String, Object>> events = new ArrayList<>();
    /** Native bytes measured between steps after a full GC, every 100 steps (step -> bytes). */
    final Map<Long, Long> settledNative = new LinkedHashMap<>();
    /** Bytes of live arrays between steps, every 100 steps (step -> bytes). */
    final Map<Long, Long> tensorBytes = new LinkedHashMap<>();
    final Map<String, Contribution<?>> registry = new HashMap<>();
    private final DjlTensorService tensors;
    private final NDManager manager;
    private final Path dir;
    private final Config config;
    private final ModelService models = new HfModelService();
    private final DataService data = new JsonlDataService();

    TestRun(Path dir, Config experiment) {
        this.dir = dir;
        this.config = experiment.resolve();
        this.tensors = DjlTensorService.start("cpu");
        this.manager = tensors.newRunScope("test");
        BuiltInContributions.all().forEach(b -> register(b.kind(), b.key(), b.factory(), b.defaults()));
    }

    /** The experiment defaults of the kernel, with {@code overrides} on top. */
    static Config experiment(String overrides) throws IOException {
        Path defaults = Path.of("../kernel/src/main/resources/distillery-experiment.conf");
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.parseFile(defaults.toFile()));
    }

    void register(ContributionKind kind, String key, ContributionFactory f, Config defaults) {
        registry.put(kind.plural() + "/" + key, new Contribution<>(new ContributionInfo(kind, key, "test", "1.0.0",
                f.description()), f, defaults));
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
                Map<String, Object> m = new LinkedHashMap<>(fields);
                m.put("type", type);
                events.add(m);
            }

            @Override
            public void step(long step, Map<String, ?> figures) {
                Map<String, Object> m = new LinkedHashMap<>(figures);
                m.put("type", "step");
                m.put("step", step);
                events.add(m);
                if (step % 100 == 0) {
                    tensorBytes.put(step, tensors.memory().tensorBytes());
                    settledNative.put(step, settledNativeBytes());
                }
            }
        };
    }

    /**
     * Native bytes once garbage holding native memory (direct buffers of array reads) is
     * collected, so the figure shows what the run keeps rather than when the GC last ran.
     */
    long settledNativeBytes() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return tensors.memory().hostBytes();
    }

    List<Map<String, Object>> steps() {
        return events.stream().filter(e -> "step".equals(e.get("type"))).toList();
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
        return new Random(seed() ^ purpose.hashCode());
    }

    /** The run reports a stop request once this many steps were logged. */
    long stopAfterSteps = Long.MAX_VALUE;

    @Override
    public boolean stopRequested() {
        return steps().size() >= stopAfterSteps;
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
            @SuppressWarnings("unchecked")
            public <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> type) {
                return Optional.ofNullable((Contribution<F>) registry.get(kind.plural() + "/" + key));
            }

            @Override
            public List<ContributionInfo> list(ContributionKind kind) {
                return registry.values().stream().map(Contribution::info).filter(i -> i.kind() == kind).toList();
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

    @Override
    public void close() {
        manager.close();
        tensors.close();
    }

    static Path writeData(Path dir, int n) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append("{\"prompt\": \"what is ").append(i).append(" plus 1?\", \"response\": \"").append(i + 1)
                    .append("\"}\n");
        }
        Path f = dir.resolve("train.jsonl");
        Files.writeString(f, sb);
        return f;
    }
}
