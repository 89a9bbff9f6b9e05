package org.distillery.kernel.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

/**
 * The serving part of {@code distill bench soak}: a real {@code distill serve} process gets
 * fuzzed requests (random bytes, random JSON, and valid completion and chat bodies with one to
 * three mutations: fields dropped, retyped, out of range, unknown), then a SIGTERM while
 * generations are in flight. Printed: answers by status class, the server's threads and resident
 * memory (from {@code /proc}) after a warm-up and after every 100 requests, and whether the
 * in-flight requests were answered whole before the process ended.
 */
public final class ServeSoak {

    private static final Gson GSON = new Gson();
    /** Resident memory may grow this much (a fraction) from the first to the last samples. */
    private static final double MAX_RSS_GROWTH = 0.05;

    /** The server's Java heap: fixed and touched at start (see {@link #run}). */
    static final String SERVER_HEAP = "-Xms512m -Xmx512m -XX:+AlwaysPreTouch";

    private ServeSoak() {
    }

    /** {@code Threads} and {@code VmRSS} (kB) of a Linux process. */
    private static long[] threadsAndRss(long pid) throws IOException {
        long threads = -1;
        long rss = -1;
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("Threads:")) {
                threads = Long.parseLong(line.substring(8).trim());
            } else if (line.startsWith("VmRSS:")) {
                rss = Long.parseLong(line.substring(6).trim().split("\\s+")[0]);
            }
        }
        return new long[] {threads, rss};
    }

    /**
     * Starts {@code distill serve model}, sends {@code requests} fuzzed requests from
     * {@code clients} threads, then SIGTERM during {@code inFlight} generations.
     *
     * @return whether no request got a 5xx, threads and resident memory did not grow, and every in-flight
     *         request was answered
     */
    public static boolean run(PrintStream out, Path distill, Path model, int requests, int clients, int inFlight,
                              long seed) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(distill.toString(), "serve", model.toString(), "--port", "0",
                "--model-name", "soak").redirectErrorStream(true);
        // a fixed, pre-touched Java heap: its growth toward -Xmx would show in the resident memory as if it
        // leaked; fixed, what grows is native memory (tensors, the engine's caches, thread stacks)
        String opts = System.getenv().getOrDefault("DISTILL_JAVA_OPTS", "");
        pb.environment().put("DISTILL_JAVA_OPTS", (opts + " " + SERVER_HEAP).trim());
        Process server = pb.start();
        BufferedReader lines = new BufferedReader(new InputStreamReader(server.getInputStream(), StandardCharsets.UTF_8));
        int port = -1;
        List<String> log = new ArrayList<>();
        for (String line; port < 0 && (line = lines.readLine()) != null; ) {
            log.add(line);
            if (line.startsWith("port ")) {
                port = Integer.parseInt(line.substring(5).trim());
            }
        }
        if (port < 0) {
            out.println("distill serve did not start: " + String.join("\n", log));
            return false;
        }
        List<String> tail = java.util.Collections.synchronizedList(new ArrayList<>());
        BufferedReader rest = lines;
        Thread drain = new Thread(() -> {
            try {
                for (String line; (line = rest.readLine()) != null; ) {
                    tail.add(line);
                }
            } catch (IOException ignored) {
                // the process ended
            }
        }, "serve-output");
        drain.setDaemon(true);
        drain.start();
        String base = "http://127.0.0.1:" + port;
        HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10))
                .version(HttpClient.Version.HTTP_1_1).build();
        Random random = new Random(seed);
        List<Fuzz> bodies = new ArrayList<>();
        for (int i = 0; i < requests; i++) {
            bodies.add(fuzz(random));
        }
        Map<String, AtomicInteger> byStatus = new TreeMap<>();
        Map<String, String> fiveHundreds = new ConcurrentHashMap<>();
        AtomicInteger failures = new AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(clients);
        List<long[]> samples = new ArrayList<>(); // requests sent, threads, resident kB
        long t0 = System.nanoTime();
        try {
            // the first third warms up (compiled code, the allocator's arenas, the engine's kernels for new
            // shapes); the growth compared is over the rest
            int warmup = Math.min(requests, Math.max(100, requests / 3 / 100 * 100));
            send(http, base, bodies.subList(0, warmup), pool, byStatus, fiveHundreds, failures);
            for (int sent = warmup; ; sent = Math.min(requests, sent + 100)) {
                long[] tr = threadsAndRss(server.pid());
                samples.add(new long[] {sent, tr[0], tr[1]});
                if (sent >= requests) {
                    break;
                }
                send(http, base, bodies.subList(sent, Math.min(requests, sent + 100)), pool, byStatus, fiveHundreds,
                        failures);
            }
            double seconds = (System.nanoTime() - t0) / 1e9;
            out.printf(Locale.ROOT, "distill serve (Java heap %s) under %d fuzzed requests from %d clients (%.0f s); "
                    + "the first %d warm it up:%n", SERVER_HEAP, requests, clients, seconds, warmup);
            StringBuilder sb = new StringBuilder();
            byStatus.forEach((k, v) -> sb.append(k).append(' ').append(v.get()).append("  "));
            out.println("  answers: " + sb.toString().trim() + (failures.get() > 0 ? "  no answer: " + failures.get()
                    : ""));
            fiveHundreds.entrySet().stream().limit(3).forEach(e -> out.println("  5xx for " + e.getKey() + ": "
                    + e.getValue()));
            out.println("     requests    server threads    resident MB");
            samples.forEach(v -> out.printf(Locale.ROOT, "  %11d    %14d    %11.1f%n", v[0], v[1], v[2] / 1024.0));
            long[] afterWarmup = samples.get(0);
            long[] end = samples.get(samples.size() - 1);
            // resident memory moves with each batch in flight: compare the medians of the first and last quarter
            int quarter = Math.max(1, samples.size() / 4);
            double rssGrowth = medianRss(samples.subList(samples.size() - quarter, samples.size()))
                    / medianRss(samples.subList(0, quarter)) - 1;
            out.printf(Locale.ROOT, "  threads %d -> %d; resident memory after the warm-up, median of the last %d "
                    + "samples against the first %d: %+.1f%%%n", afterWarmup[1], end[1], quarter, quarter,
                    100 * rssGrowth);
            boolean noFive = fiveHundreds.isEmpty() && failures.get() == 0;
            boolean threadsFlat = end[1] <= afterWarmup[1];
            boolean memoryFlat = rssGrowth < MAX_RSS_GROWTH;
            // SIGTERM while generations are in flight: each must be answered whole before the process ends
            List<CompletableFuture<HttpResponse<String>>> running = new ArrayList<>();
            for (int i = 0; i < inFlight; i++) {
                JsonObject b = new JsonObject();
                b.addProperty("model", "soak");
                b.addProperty("prompt", "what is " + i + " plus 1?");
                b.addProperty("max_tokens", 48);
                b.addProperty("temperature", 0);
                running.add(http.sendAsync(post(base, "/v1/completions", b.toString()),
                        HttpResponse.BodyHandlers.ofString()));
            }
            Thread.sleep(150);
            long sigterm = System.nanoTime();
            server.destroy(); // SIGTERM
            int whole = 0;
            List<String> lost = new ArrayList<>();
            for (CompletableFuture<HttpResponse<String>> f : running) {
                try {
                    HttpResponse<String> r = f.get(60, TimeUnit.SECONDS);
                    JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
                    if (r.statusCode() == 200 && o.getAsJsonArray("choices").get(0).getAsJsonObject()
                            .has("finish_reason")) {
                        whole++;
                    } else {
                        lost.add(r.statusCode() + " " + abbreviate(r.body()));
                    }
                } catch (Exception e) {
                    lost.add(e.toString());
                }
            }
            boolean exited = server.waitFor(60, TimeUnit.SECONDS);
            drain.join(5000);
            out.printf(Locale.ROOT, "  SIGTERM with %d generations in flight: %d answered whole, process ended %s after "
                    + "%.1f s (exit %s)%n", inFlight, whole, exited ? "cleanly" : "NOT", (System.nanoTime() - sigterm) / 1e9,
                    exited ? Integer.toString(server.exitValue()) : "-");
            lost.stream().limit(3).forEach(l -> out.println("  lost: " + l));
            tail.stream().filter(l -> l.startsWith("stopp")).forEach(l -> out.println("  server: " + l));
            boolean drained = whole == inFlight && exited;
            boolean ok = noFive && threadsFlat && memoryFlat && drained;
            out.printf(Locale.ROOT, "  goal (no 5xx, no thread growth, resident memory growth < %.0f%%, SIGTERM drains "
                    + "in-flight requests): %s%n", 100 * MAX_RSS_GROWTH, ok ? "met" : "NOT met");
            return ok;
        } finally {
            pool.shutdownNow();
            if (server.isAlive()) {
                server.destroyForcibly();
            }
        }
    }

    private static double medianRss(List<long[]> samples) {
        long[] v = samples.stream().mapToLong(s -> s[2]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2.0;
    }

    /** A request to send. */
    private record Fuzz(String method, String path, String body, String what) {
    }

    private static void send(HttpClient http, String base, List<Fuzz> fuzzes, ExecutorService pool,
                             Map<String, AtomicInteger> byStatus, Map<String, String> fiveHundreds,
                             AtomicInteger failures) throws InterruptedException {
        List<CompletableFuture<Void>> all = new ArrayList<>();
        for (Fuzz f : fuzzes) {
            all.add(CompletableFuture.runAsync(() -> {
                HttpRequest.Builder rb = HttpRequest.newBuilder(URI.create(base + f.path()))
                        .timeout(Duration.ofSeconds(120)).header("Content-Type", "application/json");
                rb = f.body() == null ? rb.method(f.method(), HttpRequest.BodyPublishers.noBody())
                        : rb.method(f.method(), HttpRequest.BodyPublishers.ofString(f.body()));
                try {
                    HttpResponse<String> r = http.send(rb.build(), HttpResponse.BodyHandlers.ofString());
                    String cls = (r.statusCode() / 100) + "xx";
                    synchronized (byStatus) {
                        byStatus.computeIfAbsent(cls, k -> new AtomicInteger()).incrementAndGet();
                    }
                    if (r.statusCode() >= 500) {
                        fiveHundreds.put(f.what() + " " + abbreviate(f.body()), r.statusCode() + " "
                                + abbreviate(r.body()));
                    }
                } catch (IOException e) {
                    failures.incrementAndGet();
                    fiveHundreds.put(f.what() + " " + abbreviate(f.body()), "no answer: " + e);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }, pool));
        }
        for (CompletableFuture<Void> c : all) {
            c.join();
        }
    }

    private static HttpRequest post(String base, String path, String body) {
        return HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(120))
                .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static String abbreviate(String s) {
        if (s == null) {
            return "(no body)";
        }
        String one = s.replace('\n', ' ');
        return one.length() > 160 ? one.substring(0, 160) + "..." : one;
    }

    /** One fuzzed request: mostly mutated valid bodies, some random JSON and bytes, a few odd paths and methods. */
    static Fuzz fuzz(Random r) {
        double kind = r.nextDouble();
        if (kind < 0.05) {
            String[] paths = {"/v1/models", "/v1/nothing", "/", "/v1/completions/", "/v1/chat/completions?x=1"};
            String[] methods = {"GET", "POST", "PUT", "DELETE"};
            return new Fuzz(methods[r.nextInt(methods.length)], paths[r.nextInt(paths.length)], null, "odd request");
        }
        if (kind < 0.15) {
            byte[] bytes = new byte[r.nextInt(200)];
            r.nextBytes(bytes);
            return new Fuzz("POST", r.nextBoolean() ? "/v1/completions" : "/v1/chat/completions",
                    new String(bytes, StandardCharsets.ISO_8859_1), "random bytes");
        }
        if (kind < 0.25) {
            return new Fuzz("POST", r.nextBoolean() ? "/v1/completions" : "/v1/chat/completions",
                    GSON.toJson(randomJson(r, 3)), "random JSON");
        }
        boolean chat = r.nextBoolean();
        JsonObject body = chat ? chatBody(r) : completionBody(r);
        int mutations = 1 + r.nextInt(3);
        for (int i = 0; i < mutations && kind >= 0.35; i++) {
            mutate(body, r);
        }
        String text = GSON.toJson(body);
        if (r.nextDouble() < 0.05) {
            text = text.substring(0, r.nextInt(Math.max(1, text.length()))); // cut short
        }
        return new Fuzz("POST", chat ? "/v1/chat/completions" : "/v1/completions", text,
                kind < 0.35 ? "valid body" : "mutated body");
    }

    private static JsonObject completionBody(Random r) {
        JsonObject b = new JsonObject();
        b.addProperty("model", "soak");
        b.addProperty("prompt", "what is " + r.nextInt(100) + " plus 1?");
        b.addProperty("max_tokens", 1 + r.nextInt(8));
        b.addProperty("temperature", r.nextBoolean() ? 0 : r.nextDouble() * 1.5);
        if (r.nextBoolean()) {
            b.addProperty("logprobs", r.nextInt(5));
        }
        return b;
    }

    private static JsonObject chatBody(Random r) {
        JsonObject b = new JsonObject();
        b.addProperty("model", "soak");
        JsonArray messages = new JsonArray();
        JsonObject m = new JsonObject();
        m.addProperty("role", "user");
        m.addProperty("content", "name a fact about " + r.nextInt(50));
        messages.add(m);
        b.add("messages", messages);
        b.addProperty("max_tokens", 1 + r.nextInt(8));
        if (r.nextBoolean()) {
            b.addProperty("top_p", r.nextDouble());
        }
        return b;
    }

    private static final String[] FIELDS = {"model", "prompt", "messages", "max_tokens", "temperature", "top_p",
        "top_k", "logprobs", "top_logprobs", "stop", "seed", "n", "stream", "echo", "presence_penalty", "user"};

    private static void mutate(JsonObject b, Random r) {
        String field = FIELDS[r.nextInt(FIELDS.length)];
        switch (r.nextInt(6)) {
            case 0 -> b.remove(field);
            case 1 -> b.add(field, randomJson(r, 2));
            case 2 -> b.addProperty(field, r.nextBoolean() ? -r.nextInt(1_000_000) : Long.MAX_VALUE);
            case 3 -> b.addProperty(field, "x".repeat(r.nextInt(5000)));
            case 4 -> b.add(field, JsonNull.INSTANCE);
            default -> b.addProperty("unknown_" + r.nextInt(10), r.nextDouble());
        }
    }

    private static JsonElement randomJson(Random r, int depth) {
        int k = depth <= 0 ? r.nextInt(4) : r.nextInt(6);
        return switch (k) {
            case 0 -> new JsonPrimitive(r.nextInt());
            case 1 -> new JsonPrimitive(Long.toString(r.nextLong(), 36));
            case 2 -> new JsonPrimitive(r.nextBoolean());
            case 3 -> JsonNull.INSTANCE;
            case 4 -> {
                JsonArray a = new JsonArray();
                for (int i = 0; i < r.nextInt(4); i++) {
                    a.add(randomJson(r, depth - 1));
                }
                yield a;
            }
            default -> {
                JsonObject o = new JsonObject();
                for (int i = 0; i < r.nextInt(4); i++) {
                    o.add(FIELDS[r.nextInt(FIELDS.length)], randomJson(r, depth - 1));
                }
                yield o;
            }
        };
    }
}
