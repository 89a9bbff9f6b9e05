package org.distillery.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;

import com.google.inject.Module;
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
import org.distillery.api.data.Datasets;
import org.distillery.api.data.GeneratorContext;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.model.InitializerContext;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelService;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.EventLog;
import org.distillery.api.run.RunContext;
import org.distillery.api.run.RunResources;
import org.distillery.api.run.SwapRequest;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.tensor.TensorService;
import org.distillery.data.JsonlDataService;
import org.distillery.data.RunDatasets;
import org.distillery.kit.module.ModuleContributions;
import org.distillery.models.HfModelService;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.tensor.DjlTensorService;

/**
 * A configurable {@link RunContext} for unit tests: real tensor, model and data services, a config
 * (often HOCON over the kernel's experiment defaults), a map-backed contribution registry and an
 * in-memory event list. Build one with {@link #builder()}; modules that need more (tiny models, a
 * served endpoint, memory probes) subclass it through {@link #TestRunContext(Builder)}.
 *
 * <p>By default the context starts its own CPU tensor service and run scope and closes both in
 * {@link #close()}; given ones ({@link Builder#tensors(TensorService, NDManager)}) stay open.
 */
public class TestRunContext implements RunContext, AutoCloseable {

    /** Makes the random source of a purpose from the run's seed. */
    @FunctionalInterface
    public interface RandomSource {
        Random random(long seed, String purpose);
    }

    /** The sources the kernel derives for a run ({@link RunResources#seeded}). */
    public static final RandomSource KERNEL_RANDOM = RunResources::seeded;

    /** The kernel's experiment defaults, relative to the repository root. */
    public static final String EXPERIMENT_DEFAULTS = "framework/kernel/src/main/resources/distillery-experiment.conf";

    /** Every event and step logged, in order; a step carries {@code type = step} and {@code step}. */
    public final List<Map<String, Object>> events = Collections.synchronizedList(new ArrayList<>());
    /** The run reports a stop request once this many steps were logged. */
    public long stopAfterSteps = Long.MAX_VALUE;

    private final AtomicLong stepCount = new AtomicLong();
    private final Map<String, Contribution<?>> registry = new HashMap<>();
    private final boolean hasRegistry;
    private final boolean recordSteps;
    private final Path dir;
    private final String runId;
    private final Config config;
    private final Long seed;
    private final RandomSource randomSource;
    private final TensorService tensors;
    private final NDManager manager;
    private final boolean ownsTensors;
    private final ModelService models;
    private final DataService data;
    private final String tinyModelConfig;

    protected TestRunContext(Builder b) {
        this.dir = b.dir != null ? b.dir : tempDir();
        this.runId = b.runId;
        this.config = b.config.resolve();
        this.seed = b.seed;
        this.randomSource = b.random;
        this.hasRegistry = b.registry;
        this.recordSteps = b.recordSteps;
        this.models = b.models != null ? b.models : new HfModelService();
        this.data = b.data != null ? b.data : new JsonlDataService();
        this.tinyModelConfig = b.tinyModel;
        if (b.tensors != null) {
            this.tensors = b.tensors;
            this.manager = b.manager;
            this.ownsTensors = false;
        } else {
            DjlTensorService t = DjlTensorService.start(b.device);
            this.tensors = t;
            this.manager = t.newRunScope(b.scope);
            this.ownsTensors = true;
        }
        b.contributions.forEach(c -> registry.put(c.info().kind().plural() + "/" + c.info().key(), c));
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * The {@code config.json} text of a GPT-2 32 wide over the byte vocabulary (259 ids, bos 257,
     * eos 258), without dropout: the tiny model most tests train.
     */
    public static String tinyGpt2(int layers, int heads, int positions) {
        return "{\"model_type\": \"gpt2\", \"vocab_size\": 259, \"n_embd\": 32, \"n_layer\": " + layers
                + ", \"n_head\": " + heads + ", \"n_positions\": " + positions + ", \"bos_token_id\": 257, "
                + "\"eos_token_id\": 258, \"resid_pdrop\": 0, \"embd_pdrop\": 0, \"attn_pdrop\": 0}";
    }

    /**
     * The config map of a GPT-2 without dropout; tests add what else they need (token ids,
     * {@code initializer_range}) before {@code ModelConfigs.fromMap}.
     */
    public static Map<String, Object> gpt2Config(long vocab, long width, long layers, long heads, long positions) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", vocab);
        raw.put("n_embd", width);
        raw.put("n_layer", layers);
        raw.put("n_head", heads);
        raw.put("n_positions", positions);
        raw.put("attn_pdrop", 0.0);
        raw.put("resid_pdrop", 0.0);
        raw.put("embd_pdrop", 0.0);
        return raw;
    }

    /**
     * The {@code config.json} text of a tiny LLaVA over the byte vocabulary with {@code <image>} (id
     * 259): a SigLIP-style tower on 8-pixel images in 4-pixel patches (4 image tokens), a Llama of
     * width 32.
     */
    public static String tinyLlava() {
        return """
                {"model_type": "llava", "image_token_index": 259, "vision_feature_layer": -1,
                 "vision_feature_select_strategy": "full",
                 "vision_config": {"model_type": "siglip_vision_model", "hidden_size": 16, "intermediate_size": 32,
                                   "num_hidden_layers": 1, "num_attention_heads": 2, "image_size": 8, "patch_size": 4},
                 "text_config": {"model_type": "llama", "vocab_size": 260, "hidden_size": 32, "intermediate_size": 48,
                                 "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 2,
                                 "max_position_embeddings": 128, "bos_token_id": 257, "eos_token_id": 258,
                                 "pad_token_id": 256}}""";
    }

    /** The kernel's experiment defaults with {@code overrides} on top (unresolved). */
    public static Config experiment(String overrides) {
        return ConfigFactory.parseString(overrides).withFallback(ConfigFactory.parseFile(experimentDefaults().toFile()));
    }

    /** The kernel's experiment defaults file, found from the working directory (a module folder) upwards. */
    public static Path experimentDefaults() {
        for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
            Path f = p.resolve(EXPERIMENT_DEFAULTS);
            if (Files.isRegularFile(f)) {
                return f;
            }
        }
        throw new IllegalStateException("no " + EXPERIMENT_DEFAULTS + " above " + Path.of("").toAbsolutePath());
    }

    private static Path tempDir() {
        try {
            return Files.createTempDirectory("distillery-test");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    // ---- registry -------------------------------------------------------------------------

    /** Registers {@code f} as {@code key} of {@code kind} with {@code defaults}. */
    public void register(ContributionKind kind, String key, ContributionFactory f, Config defaults) {
        registry.put(kind.plural() + "/" + key, contribution(kind, key, f, defaults));
    }

    /** Registers each factory with its defaults from {@code reference} (empty where it has none). */
    public void registerAll(ContributionKind kind, Map<String, ? extends ContributionFactory> factories,
                            Config reference) {
        factories.forEach((k, f) -> register(kind, k, f, defaultsIn(reference, kind, k)));
    }

    /** Registers every contribution {@code module} binds, with defaults from {@code reference}, as the kernel would. */
    public void registerModule(Module module, Config reference) {
        for (ModuleContributions.Entry e : ModuleContributions.of(module, reference)) {
            register(e.kind(), e.key(), e.factory(), e.defaults());
        }
    }

    /**
     * Registers every contribution of {@code modules} as the kernel would, with defaults from every
     * {@code reference.conf} on the test class path (each module reads only its own paths).
     */
    public void registerModules(Module... modules) {
        Config reference = ModuleContributions.reference(TestRunContext.class.getClassLoader(), "reference.conf");
        for (Module m : modules) {
            registerModule(m, reference);
        }
    }

    // ---- the narrow contexts the trainer hands contributions ---------------------------------

    /** What a loss at {@code train.loss[0]} gets, with no model shapes. */
    public LossContext lossContext() {
        return lossContext(null, null);
    }

    /** What a loss at {@code train.loss[0]} gets, with the models' shapes. */
    public LossContext lossContext(ModelConfig student, ModelConfig teacher) {
        return new LossContext(manager(), seed(), hasRegistry ? registry() : null, student, teacher,
                "train.loss[0].params");
    }

    /** What a sampler at {@code train.sampler} gets. */
    public SamplerContext samplerContext(Tokenizer tokenizer, LanguageModel student, Teacher teacher, int batchSize,
                                         int maxLength) {
        return new SamplerContext(this, datasets(), tokenizer, student, teacher, batchSize, maxLength,
                "train.sampler.params");
    }

    /** What the experiment's teacher gets, with the tokenizer of {@code tokenizerDir}. */
    public TeacherContext teacherContext(Path tokenizerDir, int maxLength) throws IOException {
        return new TeacherContext(this, models.tokenizer(tokenizerDir), tokenizerDir, maxLength, dir,
                "teacher.params");
    }

    /** What a student initialiser gets. */
    public InitializerContext initializerContext(Path tokenizerDir) throws IOException {
        return new InitializerContext(this, datasets(), models.tokenizer(tokenizerDir), tokenizerDir,
                dir.resolve("student-init"), "student.initializer.params");
    }

    /** What a data generator whose parameters sit at {@code paramsPath} gets. */
    public GeneratorContext generatorContext(Path workDir, String paramsPath) {
        return new GeneratorContext(this, datasets(), workDir, this::stopRequested, paramsPath);
    }

    /** The defaults of {@code key} of {@code kind} in {@code reference}, empty where it has none. */
    public static Config defaultsIn(Config reference, ContributionKind kind, String key) {
        String path = kind.defaultsPath(key);
        return reference.hasPath(path) ? reference.getConfig(path) : ConfigFactory.empty();
    }

    /** A contribution as the kernel would register it, from bundle {@code test} 1.0.0. */
    public static Contribution<?> contribution(ContributionKind kind, String key, ContributionFactory f,
                                               Config defaults) {
        return new Contribution<>(new ContributionInfo(kind, key, "test", "1.0.0", f.description()), f, defaults);
    }

    /** The registered loss {@code key} built from HOCON {@code params} over its defaults, in {@link #lossContext()}. */
    public Loss loss(String key, String params) {
        return factory(ContributionKind.LOSS, key, LossFactory.class).create(lossContext(),
                ConfigFactory.parseString(params).withFallback(defaults(ContributionKind.LOSS, key)));
    }

    /** The defaults of a registered contribution. */
    public Config defaults(ContributionKind kind, String key) {
        return registry.get(kind.plural() + "/" + key).defaults();
    }

    /** The factory of a registered contribution. */
    public <F> F factory(ContributionKind kind, String key, Class<F> type) {
        return type.cast(registry.get(kind.plural() + "/" + key).factory());
    }

    // ---- events ---------------------------------------------------------------------------

    /** The step events logged so far. */
    public List<Map<String, Object>> steps() {
        synchronized (events) {
            return events.stream().filter(e -> "step".equals(e.get("type"))).toList();
        }
    }

    /** Called after each logged step; subclasses probe memory or the like here. */
    protected void onStep(long step) {
    }

    // ---- helpers --------------------------------------------------------------------------

    /**
     * Writes a random model from the {@code config.json} text {@code configJson} with {@code seed}
     * and the byte tokenizer into {@code folder} (the config goes to {@code folder/init} first).
     */
    public void writeTinyModel(Path folder, String configJson, long seed) throws IOException {
        Path init = Files.createDirectories(folder.resolve("init"));
        Files.writeString(init.resolve("config.json"), configJson);
        try (NDManager m = manager.newSubManager();
             LanguageModel model = models.create(models.readConfig(init), seed, m)) {
            models.save(model, folder, DataType.FLOAT32);
        }
        new ByteTokenizer().save(folder);
    }

    /** {@link #writeTinyModel(Path, String, long)} with the builder's {@link Builder#tinyModel(String)}. */
    public void writeTinyModel(Path folder, long seed) throws IOException {
        writeTinyModel(folder, tinyModelConfig(), seed);
    }

    /**
     * A random model of the builder's {@link Builder#tinyModel(String)} with {@code seed} in {@code m},
     * its config written to {@code folder/config.json}.
     */
    public LanguageModel tinyModel(Path folder, long seed, NDManager m) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), tinyModelConfig());
        return models.create(models.readConfig(folder), seed, m);
    }

    private String tinyModelConfig() {
        if (tinyModelConfig == null) {
            throw new IllegalStateException("this test context was built without a tiny model (Builder.tinyModel)");
        }
        return tinyModelConfig;
    }

    // ---- RunContext -----------------------------------------------------------------------

    @Override
    public String runId() {
        return runId != null ? runId : dir.getFileName().toString();
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
                if (!recordSteps) {
                    return;
                }
                Map<String, Object> m = new LinkedHashMap<>(figures);
                m.put("type", "step");
                m.put("step", step);
                events.add(m);
                stepCount.incrementAndGet();
                onStep(step);
            }
        };
    }

    @Override
    public NDManager manager() {
        return manager;
    }

    @Override
    public long seed() {
        return seed != null ? seed : config.getLong("experiment.seed");
    }

    @Override
    public Random random(String purpose) {
        return randomSource.random(seed(), purpose);
    }

    @Override
    public boolean stopRequested() {
        return stepCount.get() >= stopAfterSteps;
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
        if (!hasRegistry) {
            throw new UnsupportedOperationException("no registry in this test run");
        }
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
    public Datasets datasets() {
        return new RunDatasets(dir, config.hasPath("data") ? config.getConfig("data") : ConfigFactory.empty(), data);
    }

    @Override
    public ModelService models() {
        return models;
    }

    @Override
    public DataService data() {
        return data;
    }

    /** Closes the run scope and tensor service if this context started them. */
    @Override
    public void close() {
        if (ownsTensors) {
            manager.close();
            ((DjlTensorService) tensors).close();
        }
    }

    /** Settings of a {@link TestRunContext}; every one has a default. */
    public static final class Builder {
        private Path dir;
        private String runId;
        private Config config = ConfigFactory.empty();
        private Long seed;
        private RandomSource random = (seed, purpose) -> new Random(seed ^ purpose.hashCode());
        private String device = "cpu";
        private String scope = "test";
        private TensorService tensors;
        private NDManager manager;
        private ModelService models;
        private DataService data;
        private boolean registry = true;
        private boolean recordSteps = true;
        private String tinyModel;
        private final List<Contribution<?>> contributions = new ArrayList<>();

        private Builder() {
        }

        /** The run directory; a new temporary one by default. */
        public Builder dir(Path dir) {
            this.dir = dir;
            return this;
        }

        /** The run id; the run directory's name by default. */
        public Builder runId(String runId) {
            this.runId = runId;
            return this;
        }

        /** The config (resolved on build); empty by default. */
        public Builder config(Config config) {
            this.config = Objects.requireNonNull(config);
            return this;
        }

        /** The config as plain HOCON, without the experiment defaults. */
        public Builder hocon(String hocon) {
            return config(ConfigFactory.parseString(hocon));
        }

        /** The config as HOCON {@code overrides} over the kernel's experiment defaults. */
        public Builder experiment(String overrides) {
            return config(TestRunContext.experiment(overrides));
        }

        /** A fixed seed; {@code experiment.seed} of the config by default. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** How {@link RunContext#random(String)} derives a source; {@code seed ^ purpose.hashCode()} by default. */
        public Builder random(RandomSource random) {
            this.random = Objects.requireNonNull(random);
            return this;
        }

        /** The device of the tensor service the context starts; {@code cpu} by default. */
        public Builder device(String device) {
            this.device = device;
            return this;
        }

        /** The name of the run scope the context opens; {@code test} by default. */
        public Builder scope(String scope) {
            this.scope = scope;
            return this;
        }

        /** Shared tensor service and run manager, left open by {@link TestRunContext#close()}. */
        public Builder tensors(TensorService tensors, NDManager manager) {
            this.tensors = Objects.requireNonNull(tensors);
            this.manager = Objects.requireNonNull(manager);
            return this;
        }

        /** The model service; {@link HfModelService} by default. */
        public Builder models(ModelService models) {
            this.models = models;
            return this;
        }

        /** The data service; {@link JsonlDataService} by default. */
        public Builder data(DataService data) {
            this.data = data;
            return this;
        }

        /** Registers {@code f} as {@code key} of {@code kind} with {@code defaults}. */
        public Builder contribution(ContributionKind kind, String key, ContributionFactory f, Config defaults) {
            contributions.add(TestRunContext.contribution(kind, key, f, defaults));
            return this;
        }

        /** Registers every contribution {@code module} binds, with defaults from {@code reference}. */
        public Builder module(Module module, Config reference) {
            for (ModuleContributions.Entry e : ModuleContributions.of(module, reference)) {
                contribution(e.kind(), e.key(), e.factory(), e.defaults());
            }
            return this;
        }

        /** Registers the given contributions. */
        public Builder contributions(List<? extends Contribution<?>> all) {
            contributions.addAll(all);
            return this;
        }

        /** {@link RunContext#registry()} throws: for tests that must not look anything up. */
        public Builder noRegistry() {
            this.registry = false;
            return this;
        }

        /** The {@code config.json} text of the tests' tiny model ({@link TestRunContext#tinyGpt2} or any). */
        public Builder tinyModel(String configJson) {
            this.tinyModel = Objects.requireNonNull(configJson);
            return this;
        }

        /** Steps are not logged (only events). */
        public Builder ignoreSteps() {
            this.recordSteps = false;
            return this;
        }

        public TestRunContext build() {
            return new TestRunContext(this);
        }
    }
}
