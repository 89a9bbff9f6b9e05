package org.distillery.surgery.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.MergerFactory;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.eval.EvalModule;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.testkit.TestRunContext;

/**
 * A test run with this bundle's and the evaluation's contributions registered, and tiny models of every
 * architecture the project loads.
 */
final class SurgeryTestRun extends TestRunContext {

    SurgeryTestRun(Path dir, Config experiment) {
        super(builder().dir(dir).config(experiment));
        registerModules(new SurgeryModule(), new EvalModule());
    }

    SurgeryTestRun(Path dir) {
        this(dir, TestRunContext.experiment("experiment.seed = 3"));
    }

    /** The architectures of the tests, with layer settings that depend on the layer index. */
    static final List<String> ARCHITECTURES = List.of("gpt2", "llama", "qwen2", "mistral", "mixtral", "qwen2_moe");

    /** A tiny {@code config.json} of {@code arch} with {@code layers} decoder layers. */
    static Map<String, Object> config(String arch, int layers) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", arch);
        m.put("vocab_size", 259);
        m.put("bos_token_id", 257);
        m.put("eos_token_id", 258);
        m.put("initializer_range", 0.2);
        if (arch.equals("gpt2")) {
            m.put("n_embd", 16);
            m.put("n_layer", layers);
            m.put("n_head", 2);
            m.put("n_positions", 64);
            m.put("attn_pdrop", 0.0);
            m.put("resid_pdrop", 0.0);
            m.put("embd_pdrop", 0.0);
            return m;
        }
        m.put("hidden_size", 16);
        m.put("num_hidden_layers", layers);
        m.put("num_attention_heads", 2);
        m.put("num_key_value_heads", 1);
        m.put("intermediate_size", 24);
        m.put("max_position_embeddings", 64);
        switch (arch) {
            case "qwen2" -> {
                m.put("use_sliding_window", true);
                m.put("sliding_window", 3);
                m.put("max_window_layers", 2);
            }
            case "mistral" -> m.put("sliding_window", 4);
            case "mixtral" -> {
                m.put("num_local_experts", 3);
                m.put("num_experts_per_tok", 2);
            }
            case "qwen2_moe" -> {
                m.put("num_experts", 3);
                m.put("num_experts_per_tok", 2);
                m.put("moe_intermediate_size", 8);
                m.put("shared_expert_intermediate_size", 12);
                m.put("decoder_sparse_step", 2);
            }
            default -> { }
        }
        return m;
    }

    /** Writes a random model of {@code config} with {@code seed} and the byte tokenizer into {@code dir}. */
    Path model(Path dir, Map<String, Object> config, long seed) throws IOException {
        writeTinyModel(dir, new Gson().toJson(config), seed);
        return dir;
    }

    /** Loads a model folder into {@code manager}. */
    LanguageModel load(Path dir, NDManager manager) throws IOException {
        return models().load(dir, DataType.FLOAT32, manager);
    }

    /** The embedded teacher of the repository ({@code config/models/teacher}). */
    static Path embeddedTeacher() {
        return TestRunContext.experimentDefaults().getParent().getParent().getParent().getParent().getParent()
                .getParent().resolve("config/models/teacher");
    }

    /** The embedded suite's {@code file} ({@code config/data/suite}). */
    static Path suite(String file) {
        return embeddedTeacher().getParent().getParent().resolve("data/suite").resolve(file);
    }

    /** Merges {@code models} into {@code out} with the registered merger {@code key} and {@code hocon} parameters. */
    MergeResult merge(String key, String hocon, List<Path> models, Path out) throws IOException {
        MergerFactory f = factory(ContributionKind.MERGER, key, MergerFactory.class);
        Config params = ConfigFactory.parseString(hocon).withFallback(defaults(ContributionKind.MERGER, key)).resolve();
        return f.create(params).merge(new MergeContext(this, datasets(), models, out, "merger.params", "models"));
    }

    /** Every float tensor of a model folder as float arrays, by name. */
    Map<String, float[]> floats(Path dir) throws IOException {
        Map<String, float[]> out = new LinkedHashMap<>();
        try (NDManager m = manager().newSubManager(); var r = models().openWeights(dir)) {
            for (var t : r.tensors().values()) {
                if (t.dataType().isFloating()) {
                    NDArray a = r.read(t.name(), m, DataType.FLOAT32);
                    out.put(t.name(), a.toFloatArray());
                }
            }
        }
        return out;
    }

    /** A config record of {@code dir}. */
    ModelConfig readConfig(Path dir) throws IOException {
        return models().readConfig(dir);
    }

    /** Saves the byte tokenizer (for folders written by hand). */
    static void tokenizer(Path dir) throws IOException {
        new ByteTokenizer().save(Files.createDirectories(dir));
    }
}
