package org.distillery.rlkd.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.model.LanguageModel;
import org.distillery.eval.EvalModule;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.teachers.TeachersModule;
import org.distillery.testkit.TestRunContext;
import org.distillery.train.TrainModule;

/**
 * The shared test run with a registry holding what the kernel would register: the built-ins,
 * kd-core and this bundle, each with its defaults from the {@code reference.conf} files on the
 * test class path.
 */
final class TestRun extends TestRunContext {

    /** A tiny GPT-2 over the byte tokenizer's 259 ids. */
    static final String TINY_GPT2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 259, \"n_embd\": 32, \"n_layer\": 1, "
            + "\"n_head\": 2, \"n_positions\": 96, \"bos_token_id\": 257, \"eos_token_id\": 258, \"resid_pdrop\": 0, "
            + "\"embd_pdrop\": 0, \"attn_pdrop\": 0}";

    TestRun(Path dir, Config experiment) {
        super(builder().dir(dir).config(experiment)
                .random((seed, purpose) -> new Random(seed * 0x9E3779B97F4A7C15L ^ purpose.hashCode())));
        registerModules(new TrainModule(), new EvalModule(), new TeachersModule(), new KdCoreModule(),
                new RlkdModule());
    }

    /** A run without a directory or experiment, for loss tests. */
    static TestRun bare() {
        try {
            return new TestRun(Files.createTempDirectory("rlkd-test"), experiment(""));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Creates a random tiny GPT-2 from {@link #TINY_GPT2} with {@code seed}, in {@code m}. */
    LanguageModel tinyModel(Path folder, long seed, NDManager m) throws IOException {
        Files.createDirectories(folder);
        Files.writeString(folder.resolve("config.json"), TINY_GPT2);
        return models().create(models().readConfig(folder), seed, m);
    }

    /** Writes a random tiny GPT-2 with the byte tokenizer into {@code folder}. */
    void writeTinyModel(Path folder, long seed) throws IOException {
        writeTinyModel(folder, TINY_GPT2, seed);
    }
}
