package org.distillery.datagen.internal;

import java.io.IOException;
import java.nio.file.Path;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.model.LanguageModel;
import org.distillery.eval.EvalModule;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.teachers.TeachersModule;
import org.distillery.testkit.TestRunContext;
import org.distillery.train.TrainModule;

/**
 * The shared test run with a registry holding the built-ins and this bundle's contributions
 * (defaults from {@code reference.conf}), and a tiny random GPT-2 served in-process on an
 * OpenAI-compatible endpoint.
 */
final class TestRun extends TestRunContext {

    /** A tiny GPT-2 over the byte tokenizer's 259 ids with room for few-shot prompts. */
    static final String TINY_GPT2 = "{\"model_type\": \"gpt2\", \"vocab_size\": 259, \"n_embd\": 32, \"n_layer\": 2, "
            + "\"n_head\": 4, \"n_positions\": 512, \"bos_token_id\": 257, \"eos_token_id\": 258, \"resid_pdrop\": 0, "
            + "\"embd_pdrop\": 0, \"attn_pdrop\": 0, \"initializer_range\": 0.5}";

    private LanguageModel served;
    private OpenAiServer server;

    TestRun(Path dir, String experiment) {
        super(builder().dir(dir).experiment(experiment)
                .random(KERNEL_RANDOM).tinyModel(TINY_GPT2));
        registerModules(new TrainModule(), new EvalModule(), new TeachersModule());
        Config reference = DataModule.reference();
        DataModule.generators().forEach((k, f) -> register(ContributionKind.DATA_GENERATOR, k, f,
                reference.getConfig(ContributionKind.DATA_GENERATOR.defaultsPath(k))));
        register(ContributionKind.TRAINER, GenerateTrainer.KEY, new GenerateTrainer.Factory(), ConfigFactory.empty());
        register(ContributionKind.METHOD, DataDistillMethod.KEY, new DataDistillMethod(DataModule.generators(),
                reference), reference.getConfig(ContributionKind.METHOD.defaultsPath(DataDistillMethod.KEY)));
    }

    /** Writes a random tiny GPT-2 with the byte tokenizer into {@code folder}. */
    /** Serves a random tiny GPT-2 (seed {@code seed}) as model {@code tiny}; returns its base URL with /v1. */
    String serve(long seed) throws IOException {
        Path folder = runDir().resolve("served-model");
        writeTinyModel(folder, seed);
        served = models().load(folder, DataType.FLOAT32, manager());
        server = OpenAiServer.start(served, new ByteTokenizer(), manager(), ServeOptions.defaults("tiny"));
        return server.baseUrl() + "/v1";
    }

    @Override
    public void close() {
        if (server != null) {
            server.close();
        }
        if (served != null) {
            served.close();
        }
        super.close();
    }
}
