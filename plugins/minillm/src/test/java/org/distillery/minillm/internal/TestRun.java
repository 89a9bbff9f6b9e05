package org.distillery.minillm.internal;

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

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionFactory;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelService;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.tensor.TensorService;
import org.distillery.api.train.MethodFactory;
import org.distillery.data.JsonlDataService;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.models.HfModelService;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.tensor.DjlTensorService;
import org.distillery.train.BuiltInContributions;

/**
 * A run for unit tests with real services and a registry holding what the kernel would
 * register: the built-ins, kd-core and this bundle, each with its defaults from the
 * {@code reference.conf} files on the test class path.
 */
final class TestRun implements RunContext, AutoCloseable {

    /** A tiny GPT-2 over the byte tokenizer's 259 ids. */
    static final String TINY_GPT2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 259, \"n_embd\": 32, \"n_layer\": 1, "
            + "\"n_head\": 2, \"n_positions\": 64, \"bos_token_id\": 257, \"eos_token_id\": 258, \"resid_pdrop\": 0, "
            + "\"embd_pdrop\": 0, \"attn_pdrop\": 0}";

    final List<Map<String, Object>> events = new ArrayList<>();
    private final Map<String, Contribution<?>> registry = new HashMap<>();
    private final DjlTensorService tensors;
    private final NDManager manager;
    private final Path dir;
    private final Config config;
    private final ModelService models = new HfModelService();
    private final DataService data = new JsonlDataService();
    /** The run reports a stop request once this many steps were logged. */
    long stopAfterSteps = Long.MAX_VALUE;

    TestRun(Path dir, Config experiment) {
        this.dir = dir;
        this.config = experiment.resolve();
        this.tensors = DjlTensorService.start("cpu");
        this.manager = tensors.newRunScope("test");
        BuiltInContributions.all().forEach(b -> register(b.kind(), b.key(), b.factory(), b.defaults()));
        Config reference = ConfigFactory.parseResources(TestRun.class.getClassLoader(), "reference.conf").resolve();
        Injector injector = Guice.createInjector(new KdCoreModule(), new MiniLlmModule());
        registerAll(injector, reference, ContributionKind.LOSS, LossFactory.class);
        registerAll(injector, reference, ContributionKind.SAMPLER, SamplerFactory.class);
        registerAll(injector, reference, ContributionKind.METHOD, MethodFactory.class);
    }

    /** A run without a directory or experiment, for loss tests. */
    static TestRun bare() {
        try {
            return new TestRun(Files.createTempDirectory("minillm-test"), experiment(""));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private <F extends ContributionFactory> void registerAll(Injector injector, Config reference, ContributionKind kind,
                                                             Class<F> type) {
        @SuppressWarnings("unchecked")
        Key<Map<String, F>> key = (Key<Map<String, F>>) Key.get(TypeLiteral.get(
                com.google.inject.util.Types.mapOf(String.class, type)));
        injector.getInstance(key).forEach((k, f) -> {
            String path = kind.defaultsPath(k);
            register(kind, k, f, reference.hasPath(path) ? reference.getConfig(path) : ConfigFactory.empty());
        });
    }

    /** The kernel's experiment defaults with {@code overrides} on top. */
    static Config experiment(String overrides) {
        Path defaults = Path.of("../../framework/kernel/src/main/resources/distillery-experiment.conf");
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.parseFile(defaults.toFile()));
    }

    void register(ContributionKind kind, String key, ContributionFactory f, Config defaults) {
        registry.put(kind.plural() + "/" + key, new Contribution<>(new ContributionInfo(kind, key, "test", "1.0.0",
                f.description()), f, defaults));
    }

    /** The defaults of a registered contribution. */
    Config defaults(ContributionKind kind, String key) {
        return registry.get(kind.plural() + "/" + key).defaults();
    }

    /** The factory of a registered contribution. */
    <F> F factory(ContributionKind kind, String key, Class<F> type) {
        return type.cast(registry.get(kind.plural() + "/" + key).factory());
    }

    /** Creates a random tiny GPT-2 from {@link #TINY_GPT2} with {@code seed}, in {@code m}. */
    LanguageModel tinyModel(Path folder, long seed, NDManager m) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), TINY_GPT2);
        return models.create(models.readConfig(folder), seed, m);
    }

    /** Writes a random tiny GPT-2 with the byte tokenizer into {@code folder}. */
    void writeTinyModel(Path folder, long seed) throws IOException {
        try (NDManager m = manager.newSubManager(); LanguageModel model = tinyModel(folder.resolve("init"), seed, m)) {
            models.save(model, folder, ai.djl.ndarray.types.DataType.FLOAT32);
        }
        new ByteTokenizer().save(folder);
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
            }
        };
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
        return new Random(seed() * 0x9E3779B97F4A7C15L ^ purpose.hashCode());
    }

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
}
