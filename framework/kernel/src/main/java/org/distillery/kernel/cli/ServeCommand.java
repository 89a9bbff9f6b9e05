package org.distillery.kernel.cli;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.HfModelService;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.tensor.DjlTensorService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code distill serve}: an OpenAI-compatible endpoint for a model folder, until SIGTERM or Ctrl-C. */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Serve a model on an OpenAI-compatible HTTP endpoint: POST /v1/chat/completions, "
            + "POST /v1/completions, GET /v1/models (streaming, logprobs, echo). Concurrent requests are decoded "
            + "together (continuous batching by default).",
            "Stops gracefully on SIGTERM / Ctrl-C: running requests finish first."})
final class ServeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "<model-dir>", description = "a Hugging Face model folder with a tokenizer")
    Path dir;

    @Option(names = "--host", description = "address to bind (default 127.0.0.1, loopback only)")
    String host = "127.0.0.1";

    @Option(names = "--port", description = "TCP port, 0 = a free one (default 8000)")
    int port = 8000;

    @Option(names = "--model-name", description = "model id clients send (default: the folder's name)")
    String modelName;

    @Option(names = "--api-key-env", paramLabel = "NAME",
            description = "require 'Authorization: Bearer <key>' with the key read from this environment variable")
    String apiKeyEnv;

    @Option(names = "--scheduler", paramLabel = "window|continuous", description = "continuous (default): a request "
            + "joins the running batch at the next decoding step; window: requests within the batching window are "
            + "decoded as one batch to its end")
    String scheduler = "continuous";

    @Option(names = "--batch-window-ms", description = "window scheduler: how long to collect requests into one batch "
            + "(default 5)")
    long windowMs = 5;

    @Option(names = "--max-batch", description = "requests decoded together at most (default 16)")
    int maxBatch = 16;

    @Option(names = "--max-body-bytes", description = "larger request bodies get 413 (default 1048576)")
    long maxBody = 1 << 20;

    @Option(names = "--max-tokens", description = "largest max_tokens accepted (default 1024)")
    int maxTokens = 1024;

    @Option(names = "--max-prompt-tokens", description = "longest prompt accepted, in tokens (default 4096)")
    int maxPrompt = 4096;

    @Option(names = "--default-max-tokens", description = "max_tokens when a request gives none (default 256)")
    int defaultMax = 256;

    @Option(names = "--device", description = "auto (default), cpu, gpu or gpu:N")
    String device = "auto";

    @Override
    public Integer call() throws Exception {
        ModelCommand.requireModelDir(dir);
        String key = null;
        if (apiKeyEnv != null) {
            key = System.getenv(apiKeyEnv);
            if (key == null || key.isEmpty()) {
                throw new ExperimentException(List.of("--api-key-env: environment variable " + apiKeyEnv
                        + " is not set or empty (accepted: the name of a set variable holding the key)"));
            }
        }
        String name = modelName != null ? modelName : dir.toAbsolutePath().normalize().getFileName().toString();
        ServeOptions options;
        try {
            options = new ServeOptions(host, port, key, name, Duration.ofMillis(windowMs), maxBatch, maxBody, maxTokens,
                    maxPrompt, defaultMax, 64, Duration.ofSeconds(10), ServeOptions.Scheduling.of(scheduler));
            DjlTensorService.checkSpec(device);
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("serve: " + e.getMessage()));
        }
        HfModelService models = new HfModelService();
        DjlTensorService tensors = DjlTensorService.start(device);
        NDManager manager = tensors.newRunScope("serve");
        LanguageModel model;
        Tokenizer tokenizer;
        try {
            model = models.load(dir, DataType.FLOAT32, manager);
            try {
                tokenizer = models.tokenizer(dir);
            } catch (IOException e) {
                model.close();
                throw new ExperimentException(List.of("model-dir: no usable tokenizer in " + dir + ": " + e.getMessage()));
            }
        } catch (IOException | RuntimeException e) {
            manager.close();
            tensors.close();
            if (e instanceof IOException) {
                throw new ExperimentException(List.of("model-dir: cannot load " + dir + ": " + e.getMessage()));
            }
            throw e;
        }
        OpenAiServer server;
        try {
            server = OpenAiServer.start(model, tokenizer, manager, options);
        } catch (IOException e) {
            model.close();
            manager.close();
            tensors.close();
            throw new ExperimentException(List.of("--host/--port: " + e.getMessage()));
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("stopping: finishing running requests");
            server.close();
            model.close();
            manager.close();
            tensors.close();
            System.out.println("stopped; " + server.stats());
            System.out.flush();
            stopped.countDown();
        }, "distill-serve-shutdown"));
        System.out.println("serving " + name + " (" + dir.toAbsolutePath().normalize() + ") on " + server.baseUrl()
                + "/v1" + (key != null ? " (API key required)" : ""));
        System.out.println("port " + server.port());
        System.out.flush();
        stopped.await();
        return ExitCodes.OK;
    }
}
