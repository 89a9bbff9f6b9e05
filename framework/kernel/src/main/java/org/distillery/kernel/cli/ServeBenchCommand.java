package org.distillery.kernel.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.LanguageModel;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.HfModelService;
import org.distillery.serve.ServeOptions;
import org.distillery.serve.bench.MixedLoad;
import org.distillery.serve.bench.ServeBench;
import org.distillery.tensor.DjlTensorService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code distill bench serve}: server throughput at 1, 4 and 16 concurrent clients, then 64 clients
 * with mixed lengths served by the window scheduler and by continuous batching.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = {"Requests/s and tokens/s of an in-process distill serve endpoint (loopback) at several numbers "
            + "of concurrent clients, and the ratio of the highest to the lowest (batching at work).",
            "Then the mixed load: many clients with mixed prompt and output lengths, served by the window scheduler and "
            + "by continuous batching in turn: tokens/s, p50/p95 latency and the ratios.",
            "Default model: the embedded teacher config/models/teacher."})
final class ServeBenchCommand implements Callable<Integer> {

    @Option(names = "--model-dir", description = "model folder (default: config/models/teacher of the distribution)")
    Path dir;

    @Option(names = "--clients", split = ",", paramLabel = "N", description = "concurrency levels (default 1,4,16)")
    int[] clients = {1, 4, 16};

    @Option(names = "--requests", description = "requests per client per level (default 4)")
    int requests = 4;

    @Option(names = "--max-tokens", description = "new tokens per request (default 32)")
    int maxTokens = 32;

    @Option(names = "--batch-window-ms", description = "server batching window (default 5)")
    long windowMs = 5;

    @Option(names = "--max-batch", description = "server batch size (default 16)")
    int maxBatch = 16;

    @Option(names = "--scheduler", paramLabel = "window|continuous",
            description = "scheduler of the concurrency levels (default continuous)")
    String scheduler = "continuous";

    @Option(names = "--mixed-clients", description = "clients of the mixed load, 0 to skip it (default 64)")
    int mixedClients = 64;

    @Option(names = "--mixed-requests", description = "requests per client of the mixed load (default 4)")
    int mixedRequests = 4;

    @Option(names = "--device", description = "auto (default), cpu, gpu or gpu:N")
    String device = "auto";

    @Override
    public Integer call() throws Exception {
        Path model = dir != null ? dir : Home.get().resolve("config/models/teacher");
        ModelCommand.requireModelDir(model);
        ServeBench.Options o;
        MixedLoad.Options mixed = new MixedLoad.Options(mixedClients, mixedRequests, maxBatch, Duration.ofMillis(windowMs),
                1);
        try {
            o = new ServeBench.Options(clients, requests, maxTokens, Duration.ofMillis(windowMs), maxBatch,
                    ServeOptions.Scheduling.of(scheduler));
            o.check();
            if (mixedClients != 0) {
                mixed.check();
            }
            DjlTensorService.checkSpec(device);
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("bench serve: " + e.getMessage()));
        }
        HfModelService models = new HfModelService();
        try (DjlTensorService tensors = DjlTensorService.start(device);
             NDManager m = tensors.newRunScope("bench-serve");
             LanguageModel lm = models.load(model, DataType.FLOAT32, m)) {
            System.out.printf(Locale.ROOT, "model %s on %s, %d cores available (shared machines give noisy figures)%n",
                    model, tensors.engineDescription(), Runtime.getRuntime().availableProcessors());
            ServeBench.run(System.out, lm, models.tokenizer(model), m, o);
            if (mixedClients != 0) {
                MixedLoad.run(System.out, lm, models.tokenizer(model), m, mixed);
            }
        }
        return ExitCodes.OK;
    }
}
