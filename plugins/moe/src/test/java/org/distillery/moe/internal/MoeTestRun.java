package org.distillery.moe.internal;

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
import org.distillery.api.tensor.TensorService;
import org.distillery.data.JsonlDataService;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.tensor.DjlTensorService;

/**
 * A run context for the moe tests: real tensor, model and data services, the kernel's experiment
 * defaults with overrides, an in-memory registry holding kd-core's losses and this bundle's
 * contributions (with their reference.conf defaults), and an in-memory event list.
 */
final class MoeTestRun implements RunContext, AutoCloseable {

    /** Byte-level vocabulary of the synthetic suite's tokenizer. */
    static final long VOCAB = 259;

    final List<Map<String, Object>> events = new ArrayList<>();
    private final Map<String, Contribution<?>> registry = new HashMap<>();
    private final DjlTensorService tensors;
    private final NDManager manager;
    private final Path dir;
    private final Config config;
    private final ModelService models = new HfModelService();
    private final DataService data = new JsonlDataService();
    private final Config reference = ConfigFactory.parseResources(MoeTestRun.class.getClassLoader(), "reference.conf");

    /**
     * A run in {@code dir/run} with a byte tokenizer in {@code dir/tok} and 24 records in
     * {@code dir/train.jsonl}, configured as {@code overrides} over the kernel defaults.
     */
    MoeTestRun(Path dir, String overrides) throws IOException {
        this.dir = Files.createDirectories(dir.resolve("run"));
        Path tok = Files.createDirectories(dir.resolve("tok"));
        new ByteTokenizer().save(tok);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            sb.append("{\"prompt\": \"what is ").append(i).append(" plus ").append(i % 5).append("?\", \"response\": \"")
                    .append(i + i % 5).append("\"}\n");
        }
        Path train = dir.resolve("train.jsonl");
        Files.writeString(train, sb);
        Path defaults = Path.of("../../framework/kernel/src/main/resources/distillery-experiment.conf");
        this.config = ConfigFactory.parseString(overrides)
                .withFallback(ConfigFactory.parseString("experiment.seed = 5\ntokenizer.dir = \"" + tok + "\"\n"
                        + "data.train-file = \"" + train + "\""))
                .withFallback(ConfigFactory.parseFile(defaults.toFile())).resolve();
        this.tensors = DjlTensorService.start("cpu");
        this.manager = tensors.newRunScope("test");
        Map<String, LossFactory> kd = Guice.createInjector(new KdCoreModule())
                .getInstance(Key.get(new TypeLiteral<Map<String, LossFactory>>() { }));
        kd.forEach((k, f) -> register(ContributionKind.LOSS, k, f));
        register(ContributionKind.LOSS, KaLoss.KEY, new KaLoss.Factory());
    }

    void register(ContributionKind kind, String key, ContributionFactory f) {
        String path = kind.defaultsPath(key);
        Config d = reference.hasPath(path) ? reference.getConfig(path) : ConfigFactory.empty();
        registry.put(kind.plural() + "/" + key, new Contribution<>(new ContributionInfo(kind, key, "test", "1.0.0",
                f.description()), f, d));
    }

    /** The defaults of {@code key} of {@code kind}, from the merged reference.conf files. */
    Config defaults(ContributionKind kind, String key) {
        return reference.getConfig(kind.defaultsPath(key));
    }

    /** A tiny random mixtral or qwen2_moe teacher (hidden 16, 2 layers, 4 experts, top-2) in the run's manager. */
    LanguageModel tinyMoe(String type, long seed) {
        return models.create(ModelConfigs.fromMap(tinyRaw(type)), seed, manager);
    }

    static Map<String, Object> tinyRaw(String type) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", type);
        m.put("vocab_size", VOCAB);
        m.put("hidden_size", 16L);
        m.put("num_hidden_layers", 2L);
        m.put("num_attention_heads", 2L);
        m.put("num_key_value_heads", 1L);
        m.put("max_position_embeddings", 64L);
        m.put("initializer_range", 0.3);
        m.put("rms_norm_eps", 1e-6);
        m.put("bos_token_id", 257L);
        m.put("eos_token_id", 258L);
        if (type.equals("mixtral")) {
            m.put("intermediate_size", 12L);
            m.put("num_local_experts", 4L);
            m.put("num_experts_per_tok", 2L);
        } else {
            m.put("num_experts", 4L);
            m.put("num_experts_per_tok", 2L);
            m.put("moe_intermediate_size", 8L);
            m.put("shared_expert_intermediate_size", 6L);
            m.put("intermediate_size", 20L);
            m.put("mlp_only_layers", List.of(1L));
            m.put("norm_topk_prob", false);
        }
        return m;
    }

    /** A tiny dense mistral student of the same vocabulary. */
    LanguageModel tinyStudent(long seed) {
        Map<String, Object> m = new LinkedHashMap<>(tinyRaw("mixtral"));
        m.put("model_type", "mistral");
        m.remove("num_local_experts");
        m.remove("num_experts_per_tok");
        return models.create(ModelConfigs.fromMap(m), seed, manager);
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
                events.add(m);
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
        return new Random(seed() ^ purpose.hashCode());
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
        manager.close();
        tensors.close();
    }
}
