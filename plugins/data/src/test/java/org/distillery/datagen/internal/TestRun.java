package org.distillery.datagen.internal;

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
import ai.djl.ndarray.types.DataType;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionFactory;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.tensor.TensorService;
import org.distillery.data.JsonlDataService;
import org.distillery.models.HfModelService;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.tensor.DjlTensorService;
import org.distillery.train.BuiltInContributions;

/**
 * A run for unit tests with real services, a registry holding the built-ins and this bundle's
 * contributions (defaults from {@code reference.conf}), and a tiny random GPT-2 served in-process
 * on an OpenAI-compatible endpoint.
 */
final class TestRun implements RunContext, AutoCloseable {

    /** A tiny GPT-2 over the byte tokenizer's 259 ids with room for few-shot prompts. */
    static final String TINY_GPT2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 259, \"n_embd\": 32, \"n_layer\": 2, "
            + "\"n_head\": 4, \"n_positions\": 512, \"bos_token_id\": 257, \"eos_token_id\": 258, \"resid_pdrop\": 0, "
            + "\"embd_pdrop\": 0, \"attn_pdrop\": 0, \"initializer_range\": 0.5}";

    final List<Map<String, Object>> events = new ArrayList<>();
    private final Map<String, Contribution<?>> registry = new HashMap<>();
    private final DjlTensorService tensors;
    private final NDManager manager;
    private final Path dir;
    private final Config config;
    private final ModelService models = new HfModelService();
    private final DataService data = new JsonlDataService();
    private LanguageModel served;
    private OpenAiServer server;

    TestRun(Path dir, String experiment) {
        this.dir = dir;
        Path defaults = Path.of("../../framework/kernel/src/main/resources/distillery-experiment.conf");
        this.config = ConfigFactory.parseString(experiment).withFallback(ConfigFactory.parseFile(defaults.toFile()))
                .resolve();
        this.tensors = DjlTensorService.start("cpu");
        this.manager = tensors.newRunScope("test");
        BuiltInContributions.all().forEach(b -> register(b.kind(), b.key(), b.factory(), b.defaults()));
        Config reference = DataModule.reference();
        DataModule.generators().forEach((k, f) -> register(ContributionKind.DATA_GENERATOR, k, f,
                reference.getConfig(ContributionKind.DATA_GENERATOR.defaultsPath(k))));
        register(ContributionKind.TRAINER, GenerateTrainer.KEY, new GenerateTrainer.Factory(), ConfigFactory.empty());
        register(ContributionKind.METHOD, DataDistillMethod.KEY, new DataDistillMethod(DataModule.generators(),
                reference), reference.getConfig(ContributionKind.METHOD.defaultsPath(DataDistillMethod.KEY)));
    }

    /** Writes a random tiny GPT-2 with the byte tokenizer into {@code folder}. */
    void writeTinyModel(Path folder, long seed) throws IOException {
        Files.createDirectories(folder.resolve("init"));
        Files.writeString(folder.resolve("init/config.json"), TINY_GPT2);
        try (NDManager m = manager.newSubManager();
             LanguageModel model = models.create(models.readConfig(folder.resolve("init")), seed, m)) {
            models.save(model, folder, DataType.FLOAT32);
        }
        new ByteTokenizer().save(folder);
    }

    /** Serves a random tiny GPT-2 (seed {@code seed}) as model {@code tiny}; returns its base URL with /v1. */
    String serve(long seed) throws IOException {
        Path folder = dir.resolve("served-model");
        writeTinyModel(folder, seed);
        served = models.load(folder, DataType.FLOAT32, manager);
        server = OpenAiServer.start(served, new ByteTokenizer(), manager, ServeOptions.defaults("tiny"));
        return server.baseUrl() + "/v1";
    }

    void register(ContributionKind kind, String key, ContributionFactory f, Config defaults) {
        registry.put(kind.plural() + "/" + key, new Contribution<>(new ContributionInfo(kind, key, "test", "1.0.0",
                f.description()), f, defaults));
    }

    Config defaults(ContributionKind kind, String key) {
        return registry.get(kind.plural() + "/" + key).defaults();
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
                synchronized (events) {
                    events.add(m);
                }
            }

            @Override
            public void step(long step, Map<String, ?> figures) {
                Map<String, Object> m = new LinkedHashMap<>(figures);
                m.put("type", "step");
                m.put("step", step);
                synchronized (events) {
                    events.add(m);
                }
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
        return new Random(seed() * 0x9E3779B97F4A7C15L ^ purpose.hashCode());
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
        if (server != null) {
            server.close();
        }
        if (served != null) {
            served.close();
        }
        manager.close();
        tensors.close();
    }
}
