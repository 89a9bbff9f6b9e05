package org.distillery.moe.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.inject.Guice;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionFactory;
import org.distillery.api.ContributionKind;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.model.InitializerContext;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.testkit.TestRunContext;

/**
 * The shared test run for the moe tests: the kernel's experiment defaults with overrides, a
 * registry holding kd-core's losses and this bundle's contributions (with their reference.conf
 * defaults), a byte tokenizer and a small training file.
 */
final class MoeTestRun extends TestRunContext {

    /** Byte-level vocabulary of the synthetic suite's tokenizer. */
    static final long VOCAB = 259;

    private final Config reference = ConfigFactory.parseResources(MoeTestRun.class.getClassLoader(), "reference.conf");

    /**
     * A run in {@code dir/run} with a byte tokenizer in {@code dir/tok} and 24 records in
     * {@code dir/train.jsonl}, configured as {@code overrides} over the kernel defaults.
     */
    MoeTestRun(Path dir, String overrides) throws IOException {
        super(setUp(dir, overrides));
        this.tokenizerDir = dir.resolve("tok");
        Map<String, LossFactory> kd = Guice.createInjector(new KdCoreModule())
                .getInstance(Key.get(new TypeLiteral<Map<String, LossFactory>>() { }));
        kd.forEach((k, f) -> register(ContributionKind.LOSS, k, f));
        register(ContributionKind.LOSS, KaLoss.KEY, new KaLoss.Factory());
    }

    private static Builder setUp(Path dir, String overrides) throws IOException {
        Path run = Files.createDirectories(dir.resolve("run"));
        Path tok = Files.createDirectories(dir.resolve("tok"));
        new ByteTokenizer().save(tok);
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 24; i++) {
            sb.append("{\"prompt\": \"what is ").append(i).append(" plus ").append(i % 5).append("?\", \"response\": \"")
                    .append(i + i % 5).append("\"}\n");
        }
        Path train = dir.resolve("train.jsonl");
        Files.writeString(train, sb);
        return builder().dir(run).config(ConfigFactory.parseString(overrides)
                .withFallback(ConfigFactory.parseString("experiment.seed = 5\ntokenizer.dir = \"" + tok + "\"\n"
                        + "data.train-file = \"" + train + "\""))
                .withFallback(experiment("")));
    }

    private final Path tokenizerDir;

    /** What the experiment's teacher gets in this run (the run's byte tokenizer, max-length 64). */
    TeacherContext teacherContext() throws IOException {
        return teacherContext(tokenizerDir, 64);
    }

    /** What a student initialiser gets in this run. */
    InitializerContext initializerContext() throws IOException {
        return initializerContext(tokenizerDir);
    }

    void register(ContributionKind kind, String key, ContributionFactory f) {
        register(kind, key, f, defaultsIn(reference, kind, key));
    }

    /** The defaults of {@code key} of {@code kind}, from the merged reference.conf files. */
    @Override
    public Config defaults(ContributionKind kind, String key) {
        return reference.getConfig(kind.defaultsPath(key));
    }

    /** A tiny random mixtral or qwen2_moe teacher (hidden 16, 2 layers, 4 experts, top-2) in the run's manager. */
    LanguageModel tinyMoe(String type, long seed) {
        return models().create(ModelConfigs.fromMap(tinyRaw(type)), seed, manager());
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
        return models().create(ModelConfigs.fromMap(m), seed, manager());
    }
}
