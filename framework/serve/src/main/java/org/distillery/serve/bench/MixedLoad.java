package org.distillery.serve.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import ai.djl.ndarray.NDManager;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.serve.ServerStats;

/**
 * The mixed-load case of {@code distill bench serve}: many concurrent clients, each sending
 * completions of mixed prompt and output lengths one after another, served once by the window
 * scheduler and once by continuous batching with the same batch size, in the same process and on
 * the same request list. Prints tokens/s, p50/p95 request latency and how full the batch ran for
 * each, then the ratios continuous / window against the goal (throughput at least 1.5x, p95 at
 * most 0.7x).
 *
 * <p>Requests: prompts of 8 to 96 characters (one token each with the byte tokenizer), and
 * outputs three in four short (8 to 32 tokens) and one in four long (64 to 128 tokens), greedy
 * with {@code ignore_eos} so every request produces exactly its budget; prompts are capped at half
 * the model's context and budgets so that prompt plus output fit it. Each client's list is drawn from its own seeded
 * generator, so both schedulers serve identical work.
 */
public final class MixedLoad {

    /** Throughput goal: continuous at least this many times the window scheduler's tokens/s. */
    public static final double THROUGHPUT_GOAL = 1.5;
    /** Latency goal: continuous p95 at most this fraction of the window scheduler's. */
    public static final double P95_GOAL = 0.7;

    /**
     * What to measure.
     *
     * @param clients concurrent clients
     * @param requestsPerClient requests each client sends, one after another
     * @param maxBatch both schedulers' batch size (slots of the continuous one)
     * @param window the window scheduler's batching window
     * @param seed draws the request list
     */
    public record Options(int clients, int requestsPerClient, int maxBatch, Duration window, long seed) {

        /** 64 clients, 4 requests each, batches of 16, 5 ms window, seed 1. */
        public static Options defaults() {
            return new Options(64, 4, 16, Duration.ofMillis(5), 1);
        }

        /** Throws {@link IllegalArgumentException} naming a bad field. */
        public void check() {
            if (clients < 1 || clients > 256) {
                throw new IllegalArgumentException("--mixed-clients: must be in 1..256, or 0 to skip the mixed load (got "
                        + clients + ")");
            }
            if (requestsPerClient < 1) {
                throw new IllegalArgumentException("--mixed-requests: must be >= 1 (got " + requestsPerClient + ")");
            }
            if (maxBatch < 1) {
                throw new IllegalArgumentException("--max-batch: must be >= 1 (got " + maxBatch + ")");
            }
        }
    }

    /** One request of the list. */
    record Call(String prompt, int maxTokens) {
    }

    /**
     * What one scheduler achieved.
     *
     * @param scheduling the scheduler
     * @param requests requests answered
     * @param tokens completion tokens over all of them
     * @param seconds wall time of the whole load
     * @param latenciesMs every request's latency, sorted
     * @param rowsPerStep unfinished rows per decoding step, on average
     */
    record Outcome(ServeOptions.Scheduling scheduling, int requests, long tokens, double seconds, double[] latenciesMs,
                   double rowsPerStep) {

        double tokensPerSecond() {
            return tokens / seconds;
        }

        double percentileMs(double p) {
            int rank = (int) Math.ceil(p / 100.0 * latenciesMs.length);
            return latenciesMs[Math.max(0, Math.min(latenciesMs.length - 1, rank - 1))];
        }
    }

    private MixedLoad() {
    }

    /** Runs the load through both schedulers and prints one line each and the ratios. */
    public static void run(PrintStream out, LanguageModel model, Tokenizer tokenizer, NDManager manager, Options o)
            throws Exception {
        o.check();
        int context = model.config().maxPositions() > 0 ? model.config().maxPositions() : Integer.MAX_VALUE;
        List<List<Call>> calls = calls(o, context);
        long totalTokens = calls.stream().flatMap(List::stream).mapToLong(Call::maxTokens).sum();
        out.printf(Locale.ROOT, "mixed load: %d clients x %d requests = %d requests, %d completion tokens; prompts 8-96 "
                + "characters, outputs 3 in 4 of 8-32 tokens and 1 in 4 of 64-128 (greedy, ignore_eos); max batch %d, "
                + "window %d ms%n", o.clients(), o.requestsPerClient(), o.clients() * o.requestsPerClient(), totalTokens,
                o.maxBatch(), o.window().toMillis());
        List<Outcome> outcomes = new ArrayList<>();
        for (ServeOptions.Scheduling s : List.of(ServeOptions.Scheduling.WINDOW, ServeOptions.Scheduling.CONTINUOUS)) {
            outcomes.add(serve(model, tokenizer, manager, o, s, calls));
        }
        out.printf(Locale.ROOT, "  scheduler    requests   tokens   time s   tokens/s    p50 ms    p95 ms  rows/step%n");
        for (Outcome r : outcomes) {
            out.printf(Locale.ROOT, "  %-11s %9d %8d %8.2f %10.1f %9.0f %9.0f %10.1f%n", r.scheduling().key(),
                    r.requests(), r.tokens(), r.seconds(), r.tokensPerSecond(), r.percentileMs(50), r.percentileMs(95),
                    r.rowsPerStep());
        }
        Outcome w = outcomes.get(0);
        Outcome c = outcomes.get(1);
        double throughput = c.tokensPerSecond() / w.tokensPerSecond();
        double p95 = c.percentileMs(95) / w.percentileMs(95);
        out.printf(Locale.ROOT, "continuous / window at %d clients: throughput %.2fx (goal >= %.1fx: %s), p50 latency "
                + "%.2fx, p95 latency %.2fx (goal <= %.1fx: %s)%n", o.clients(), throughput, THROUGHPUT_GOAL,
                throughput >= THROUGHPUT_GOAL ? "met" : "NOT met", c.percentileMs(50) / w.percentileMs(50), p95,
                P95_GOAL, p95 <= P95_GOAL ? "met" : "NOT met");
    }

    /** Every client's requests, drawn from the seed; budgets capped by the context. */
    static List<List<Call>> calls(Options o, int context) {
        List<List<Call>> all = new ArrayList<>();
        for (int c = 0; c < o.clients(); c++) {
            SplittableRandom r = new SplittableRandom(o.seed() * 1_000_003L + c);
            List<Call> mine = new ArrayList<>();
            for (int i = 0; i < o.requestsPerClient(); i++) {
                // a small model's context halves the prompts' share (the embedded teacher's 256 leaves them as drawn)
                int promptChars = Math.min(8 + r.nextInt(89), Math.max(1, context / 2 - 1));
                StringBuilder p = new StringBuilder();
                while (p.length() < promptChars) {
                    p.append(WORDS[r.nextInt(WORDS.length)]).append(' ');
                }
                p.setLength(promptChars);
                int out = r.nextInt(4) == 0 ? 64 + r.nextInt(65) : 8 + r.nextInt(25);
                // one token per character at most with the byte tokenizer, plus bos
                int room = context - promptChars - 1;
                mine.add(new Call(p.toString(), Math.max(1, Math.min(out, room))));
            }
            all.add(mine);
        }
        return all;
    }

    private static final String[] WORDS = {"the", "teacher", "student", "what", "is", "seven", "plus", "three",
        "answer", "river", "castle", "blue", "reverse", "the word", "yes or no", "describe", "a", "quiet", "city"};

    private static Outcome serve(LanguageModel model, Tokenizer tokenizer, NDManager manager, Options o,
                                 ServeOptions.Scheduling scheduling, List<List<Call>> calls) throws Exception {
        ServeOptions d = ServeOptions.defaults("bench");
        // one HTTP handler per client, so requests wait for the scheduler and never for a handler
        ServeOptions so = new ServeOptions(d.host(), d.port(), null, d.modelName(), o.window(), o.maxBatch(),
                d.maxBodyBytes(), d.maxTokensPerRequest(), d.maxPromptTokens(), d.defaultMaxTokens(),
                Math.max(d.handlerThreads(), o.clients()), d.shutdownGrace(), scheduling);
        HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
        ExecutorService pool = Executors.newFixedThreadPool(o.clients());
        try (OpenAiServer server = OpenAiServer.start(model, tokenizer, manager, so)) {
            URI uri = URI.create(server.baseUrl() + "/v1/completions");
            // warm-up: one short request per batch slot, concurrently
            List<Future<long[]>> warm = new ArrayList<>();
            for (int i = 0; i < Math.min(o.maxBatch(), calls.size()); i++) {
                Call first = calls.get(i).get(0);
                warm.add(pool.submit(() -> send(http, uri, new Call(first.prompt(), Math.min(8, first.maxTokens())))));
            }
            for (Future<long[]> f : warm) {
                f.get();
            }
            ServerStats st = server.stats();
            long steps0 = st.decodeSteps();
            long rows0 = st.rowSteps();
            long t0 = System.nanoTime();
            List<Future<List<long[]>>> clients = new ArrayList<>();
            for (List<Call> mine : calls) {
                clients.add(pool.submit(() -> {
                    List<long[]> done = new ArrayList<>();
                    for (Call call : mine) {
                        done.add(send(http, uri, call));
                    }
                    return done;
                }));
            }
            List<long[]> all = new ArrayList<>();
            for (Future<List<long[]>> f : clients) {
                all.addAll(f.get());
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            long steps = st.decodeSteps() - steps0;
            double rowsPerStep = steps == 0 ? 0 : (st.rowSteps() - rows0) / (double) steps;
            double[] latencies = all.stream().mapToDouble(x -> x[1] / 1e6).sorted().toArray();
            long tokens = all.stream().mapToLong(x -> x[0]).sum();
            return new Outcome(scheduling, all.size(), tokens, seconds, latencies, rowsPerStep);
        } finally {
            pool.shutdownNow();
        }
    }

    /** Sends one completion; returns {completion tokens, latency in ns}. */
    private static long[] send(HttpClient http, URI uri, Call call) throws IOException, InterruptedException {
        JsonObject body = new JsonObject();
        body.addProperty("model", "bench");
        body.addProperty("prompt", call.prompt());
        body.addProperty("max_tokens", call.maxTokens());
        body.addProperty("temperature", 0);
        body.addProperty("ignore_eos", true);
        HttpRequest req = HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body.toString())).build();
        long t0 = System.nanoTime();
        HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
        long latency = System.nanoTime() - t0;
        if (r.statusCode() != 200) {
            throw new IOException("the server answered " + r.statusCode() + ": " + r.body());
        }
        int tokens = JsonParser.parseString(r.body()).getAsJsonObject().getAsJsonObject("usage")
                .get("completion_tokens").getAsInt();
        return new long[] {tokens, latency};
    }
}
