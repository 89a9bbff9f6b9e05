package org.distillery.serve.bench;

import java.io.PrintStream;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.google.gson.JsonObject;

import ai.djl.ndarray.NDManager;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.kit.openai.ClientOptions;
import org.distillery.kit.openai.OpenAiClient;

/**
 * Requests/s and tokens/s of an in-process {@link OpenAiServer} on loopback at several numbers of
 * concurrent clients, each sending greedy completions one after another; prints the ratio of
 * the highest to the lowest concurrency's throughput (batching works when it is well above 1).
 * The mixed-load comparison of the two schedulers is {@link MixedLoad}.
 */
public final class ServeBench {

    /**
     * What to measure.
     *
     * @param clients concurrency levels, e.g. 1, 4, 16
     * @param requestsPerClient requests each client sends per level
     * @param maxTokens new tokens per request
     * @param window the server's batching window (window scheduler)
     * @param maxBatch the server's batch size
     * @param scheduling the server's scheduler
     */
    public record Options(int[] clients, int requestsPerClient, int maxTokens, Duration window, int maxBatch,
                          ServeOptions.Scheduling scheduling) {

        /** 1, 4 and 16 clients, 4 requests each, 32 new tokens, 5 ms window, batches of 16, continuous batching. */
        public static Options defaults() {
            return new Options(new int[] {1, 4, 16}, 4, 32, Duration.ofMillis(5), 16, ServeOptions.Scheduling.CONTINUOUS);
        }

        /** Throws {@link IllegalArgumentException} naming a bad field. */
        public void check() {
            if (clients.length == 0) {
                throw new IllegalArgumentException("--clients: give at least one level");
            }
            for (int c : clients) {
                if (c < 1 || c > 256) {
                    throw new IllegalArgumentException("--clients: each level must be in 1..256 (got " + c + ")");
                }
            }
            if (requestsPerClient < 1) {
                throw new IllegalArgumentException("--requests: must be >= 1 (got " + requestsPerClient + ")");
            }
            if (maxTokens < 1) {
                throw new IllegalArgumentException("--max-tokens: must be >= 1 (got " + maxTokens + ")");
            }
            if (maxBatch < 1) {
                throw new IllegalArgumentException("--max-batch: must be >= 1 (got " + maxBatch + ")");
            }
        }
    }

    private ServeBench() {
    }

    /** Runs the benchmark on {@code model} and prints one line per level and the ratio. */
    public static void run(PrintStream out, LanguageModel model, Tokenizer tokenizer, NDManager manager, Options o)
            throws Exception {
        o.check();
        int maxClients = 0;
        for (int c : o.clients()) {
            maxClients = Math.max(maxClients, c);
        }
        ServeOptions so = ServeOptions.defaults("bench").withBatching(o.window(), o.maxBatch())
                .withScheduling(o.scheduling());
        try (OpenAiServer server = OpenAiServer.start(model, tokenizer, manager, so);
             OpenAiClient client = new OpenAiClient(ClientOptions.of(URI.create(server.baseUrl()), "bench")
                     .withConcurrency(maxClients).withRetries(0, Duration.ZERO, Duration.ZERO))) {
            out.printf(Locale.ROOT, "server %s, %s scheduler, window %d ms, max batch %d; %d requests per client, %d new "
                    + "tokens each (greedy, ignore_eos)%n", server.baseUrl(), o.scheduling().key(), o.window().toMillis(),
                    o.maxBatch(), o.requestsPerClient(), o.maxTokens());
            request(client, 0, o.maxTokens());
            double first = -1;
            double last = -1;
            for (int c : o.clients()) {
                long steps0 = server.stats().decodeSteps();
                long rows0 = server.stats().rowSteps();
                ExecutorService pool = Executors.newFixedThreadPool(c);
                long t0 = System.nanoTime();
                List<Future<Integer>> futures = new ArrayList<>();
                for (int i = 0; i < c; i++) {
                    int clientId = i;
                    futures.add(pool.submit(() -> {
                        int tokens = 0;
                        for (int r = 0; r < o.requestsPerClient(); r++) {
                            tokens += request(client, clientId * 1000 + r, o.maxTokens());
                        }
                        return tokens;
                    }));
                }
                long tokens = 0;
                for (Future<Integer> f : futures) {
                    tokens += f.get();
                }
                double secs = (System.nanoTime() - t0) / 1e9;
                pool.shutdown();
                int requests = c * o.requestsPerClient();
                long steps = server.stats().decodeSteps() - steps0;
                double rowsPerStep = steps == 0 ? 0 : (server.stats().rowSteps() - rows0) / (double) steps;
                double tps = tokens / secs;
                out.printf(Locale.ROOT, "clients %3d: %4d requests in %6.2f s  %7.2f requests/s  %8.1f tokens/s  "
                        + "rows/step %.1f%n", c, requests, secs, requests / secs, tps, rowsPerStep);
                if (first < 0) {
                    first = tps;
                }
                last = tps;
            }
            if (o.clients().length > 1) {
                out.printf(Locale.ROOT, "throughput ratio %d clients / %d clients: %.2fx (tokens/s)%n",
                        o.clients()[o.clients().length - 1], o.clients()[0], last / first);
            }
        }
    }

    private static int request(OpenAiClient client, int n, int maxTokens) {
        JsonObject body = new JsonObject();
        body.addProperty("prompt", "Question " + n + ": what is " + (n % 97) + " plus " + (n % 13) + "? Answer:");
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", 0);
        body.addProperty("ignore_eos", true);
        return client.complete(body).getAsJsonObject("usage").get("completion_tokens").getAsInt();
    }
}
