package org.distillery.kit.openai;

import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.distillery.api.model.Tokenizer;

/**
 * A client of an OpenAI-compatible endpoint, safe to share between threads.
 *
 * <p>At most {@link ClientOptions#concurrency()} requests are in flight. A 429, a 5xx, a timeout
 * or a connection error is retried up to {@link ClientOptions#maxRetries()} times, waiting
 * {@code initial-backoff * 2^attempt} (at most {@code max-backoff}) times a random factor in
 * [0.5, 1], or the server's {@code Retry-After} when it sends one. A 2xx answer whose body is not a
 * JSON object (cut short on the way) is retried the same way, and so is one the caller's reader
 * refuses as wrongly shaped ({@link #post(String, JsonObject, Function)}). Other 4xx answers fail at
 * once with the endpoint's message. With a cache folder, every successful non-streaming response
 * (that the reader accepted) is kept on disk and the same request is answered from there without
 * any HTTP call.
 *
 * <pre>{@code
 * try (OpenAiClient c = new OpenAiClient(ClientOptions.of(URI.create("http://127.0.0.1:8000"), "teacher"))) {
 *     String reply = c.chatText(List.of(new Tokenizer.ChatTurn("user", "2+2?")), 32, 0.0, 1L);
 * }
 * }</pre>
 */
public final class OpenAiClient implements AutoCloseable {

    private static final Gson GSON = new com.google.gson.GsonBuilder().serializeNulls().disableHtmlEscaping().create();

    private final ClientOptions options;
    private final String base;
    private final HttpClient http;
    private final Semaphore slots;
    private final ResponseCache cache;
    private final AtomicLong httpCalls = new AtomicLong();
    private final AtomicLong cacheHits = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();

    /** A client; nothing is sent until the first request. */
    public OpenAiClient(ClientOptions options) {
        this.options = options;
        String b = options.baseUrl().toString();
        while (b.endsWith("/")) {
            b = b.substring(0, b.length() - 1);
        }
        if (b.endsWith("/v1")) {
            b = b.substring(0, b.length() - 3);
        }
        this.base = b;
        this.http = HttpClient.newBuilder().connectTimeout(options.timeout()).version(HttpClient.Version.HTTP_1_1)
                .build();
        this.slots = new Semaphore(options.concurrency(), true);
        this.cache = options.cacheDir() == null ? null : new ResponseCache(options.cacheDir());
    }

    /** The options. */
    public ClientOptions options() {
        return options;
    }

    /** HTTP attempts made so far (retries included, cache hits not). */
    public long httpCalls() {
        return httpCalls.get();
    }

    /** Requests answered from the cache. */
    public long cacheHits() {
        return cacheHits.get();
    }

    /** Retries made so far. */
    public long retries() {
        return retries.get();
    }

    /** {@code POST /v1/chat/completions}; the options' model is added when the body names none. */
    public JsonObject chat(JsonObject body) {
        return post("/v1/chat/completions", body);
    }

    /** {@code POST /v1/completions}; the options' model is added when the body names none. */
    public JsonObject complete(JsonObject body) {
        return post("/v1/completions", body);
    }

    /** The assistant's reply to {@code turns} (non-streaming; {@code seed} may be {@code null}). */
    public String chatText(List<Tokenizer.ChatTurn> turns, int maxTokens, double temperature, Long seed) {
        JsonObject body = new JsonObject();
        body.add("messages", messages(turns));
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", temperature);
        if (seed != null) {
            body.addProperty("seed", seed);
        }
        return post("/v1/chat/completions", body, r -> {
            try {
                return r.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("message").get("content")
                        .getAsString();
            } catch (RuntimeException e) {
                throw new IllegalStateException("no choices[0].message.content in " + abbreviate(r), e);
            }
        });
    }

    /** A conversation as the {@code messages} array of a chat request. */
    public static JsonArray messages(List<Tokenizer.ChatTurn> turns) {
        JsonArray messages = new JsonArray();
        for (Tokenizer.ChatTurn t : turns) {
            JsonObject m = new JsonObject();
            m.addProperty("role", t.role());
            m.addProperty("content", t.content());
            messages.add(m);
        }
        return messages;
    }

    /** The continuation of {@code prompt} (non-streaming; {@code seed} may be {@code null}). */
    public String completeText(String prompt, int maxTokens, double temperature, Long seed) {
        JsonObject body = new JsonObject();
        body.addProperty("prompt", prompt);
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", temperature);
        if (seed != null) {
            body.addProperty("seed", seed);
        }
        return complete(body, r -> {
            try {
                return r.getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
            } catch (RuntimeException e) {
                throw new IllegalStateException("no choices[0].text in " + abbreviate(r), e);
            }
        });
    }

    /** {@code GET /v1/models} (never cached). */
    public JsonObject models() {
        return send("GET", "/v1/models", null);
    }

    /**
     * {@code POST /v1/completions}, read by {@code reader}, which throws (any runtime exception)
     * when the response does not have the shape it needs; such a response is retried like a 5xx.
     */
    public <T> T complete(JsonObject body, Function<JsonObject, T> reader) {
        return post("/v1/completions", body, reader);
    }

    /** POSTs {@code body} to {@code path}, through the cache unless it asks to stream. */
    public JsonObject post(String path, JsonObject body) {
        return post(path, body, Function.identity());
    }

    /**
     * POSTs {@code body} to {@code path} and reads the response with {@code reader}, through the
     * cache unless it asks to stream. A response the reader refuses (it throws) is retried as a
     * transient failure and never cached; after the last attempt the failure names the URL and
     * the reader's complaint.
     */
    public <T> T post(String path, JsonObject body, Function<JsonObject, T> reader) {
        JsonObject b = body.deepCopy();
        if (!b.has("model") && options.model() != null && !options.model().isEmpty()) {
            JsonObject withModel = new JsonObject();
            withModel.addProperty("model", options.model());
            b.entrySet().forEach(e -> withModel.add(e.getKey(), e.getValue()));
            b = withModel;
        }
        if (b.has("stream") && b.get("stream").isJsonPrimitive() && b.get("stream").getAsBoolean()) {
            throw new IllegalArgumentException("OpenAiClient answers whole responses; send stream: false");
        }
        String text = GSON.toJson(b);
        String key = null;
        if (cache != null) {
            key = ResponseCache.key(base, path, b.has("model") ? b.get("model").getAsString() : "", text);
            Optional<String> hit = cache.get(key);
            if (hit.isPresent()) {
                try {
                    T read = reader.apply(JsonParser.parseString(hit.get()).getAsJsonObject());
                    cacheHits.incrementAndGet();
                    return read;
                } catch (RuntimeException e) {
                    // an unreadable entry is a miss; it is overwritten below
                }
            }
        }
        @SuppressWarnings("unchecked")
        Read<T>[] accepted = new Read[1];
        send("POST", path, text, o -> {
            accepted[0] = new Read<>(o, reader.apply(o));
        });
        if (cache != null) {
            try {
                cache.put(key, GSON.toJson(accepted[0].response()));
            } catch (IOException e) {
                throw new OpenAiException(200, null, "cannot write the response cache " + cache.dir() + ": " + e, e);
            }
        }
        return accepted[0].value();
    }

    /** A response and what the caller's reader made of it. */
    private record Read<T>(JsonObject response, T value) {
    }

    private JsonObject send(String method, String path, String body) {
        JsonObject[] out = new JsonObject[1];
        send(method, path, body, o -> out[0] = o);
        return out[0];
    }

    /** Sends until a 2xx JSON object that {@code accept} takes without throwing, retrying transient failures. */
    private void send(String method, String path, String body, java.util.function.Consumer<JsonObject> accept) {
        URI uri = URI.create(base + path);
        HttpRequest.Builder rb = HttpRequest.newBuilder(uri).timeout(options.timeout()).header("Accept", "application/json");
        if (options.apiKey() != null && !options.apiKey().isEmpty()) {
            rb.header("Authorization", "Bearer " + options.apiKey());
        }
        if (body != null) {
            rb.header("Content-Type", "application/json").method(method, HttpRequest.BodyPublishers.ofString(body));
        } else {
            rb.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpRequest request = rb.build();
        String last = null;
        int lastStatus = -1;
        String lastCode = null;
        Throwable lastError = null;
        for (int attempt = 0; ; attempt++) {
            Duration retryAfter = null;
            HttpResponse<String> resp = null;
            try {
                slots.acquire();
                try {
                    httpCalls.incrementAndGet();
                    resp = http.send(request, HttpResponse.BodyHandlers.ofString());
                } finally {
                    slots.release();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new OpenAiException(-1, null, method + " " + uri + " interrupted", e);
            } catch (HttpTimeoutException e) {
                last = "timed out after " + options.timeout().toMillis() + " ms";
                lastStatus = -1;
                lastError = e;
            } catch (IOException e) {
                last = (e instanceof ConnectException ? "cannot connect: " : "connection error: ") + e;
                lastStatus = -1;
                lastError = e;
            }
            if (resp != null) {
                int s = resp.statusCode();
                if (s >= 200 && s < 300) {
                    JsonObject o = null;
                    try {
                        JsonElement e = JsonParser.parseString(resp.body());
                        if (e.isJsonObject()) {
                            o = e.getAsJsonObject();
                        }
                    } catch (RuntimeException e) {
                        // cut short or garbled on the way: retried below
                    }
                    if (o == null) {
                        last = "HTTP " + s + " with a body that is not a JSON object (cut short?): "
                                + abbreviate(resp.body());
                        lastError = null;
                    } else {
                        try {
                            accept.accept(o);
                            return;
                        } catch (RuntimeException e) {
                            last = "HTTP " + s + " with a response of the wrong shape: " + e.getMessage();
                            lastError = e;
                        }
                    }
                    lastStatus = s;
                    lastCode = null;
                    if (attempt >= options.maxRetries()) {
                        throw new OpenAiException(lastStatus, lastCode, method + " " + uri + " failed after "
                                + (attempt + 1) + " attempt(s); last: " + last, lastError);
                    }
                    retries.incrementAndGet();
                    sleep(backoff(attempt));
                    continue;
                }
                lastStatus = s;
                lastCode = errorField(resp.body(), "code");
                String msg = errorField(resp.body(), "message");
                last = "HTTP " + s + (msg == null ? ": " + abbreviate(resp.body()) : ": " + msg);
                lastError = null;
                if (!(s == 429 || s >= 500)) {
                    throw new OpenAiException(s, lastCode, method + " " + uri + " failed with " + last, null);
                }
                retryAfter = retryAfter(resp);
            }
            if (attempt >= options.maxRetries()) {
                throw new OpenAiException(lastStatus, lastCode, method + " " + uri + " failed after " + (attempt + 1)
                        + " attempt(s); last: " + last, lastError);
            }
            retries.incrementAndGet();
            sleep(retryAfter != null ? retryAfter : backoff(attempt));
        }
    }

    private Duration backoff(int attempt) {
        long initial = options.initialBackoff().toMillis();
        long cap = options.maxBackoff().toMillis();
        long exp = attempt >= 30 ? cap : Math.min(cap, initial << attempt);
        return Duration.ofMillis((long) (exp * (0.5 + 0.5 * ThreadLocalRandom.current().nextDouble())));
    }

    /** {@code Retry-After} as seconds or an HTTP date; {@code null} when absent or unreadable. */
    static Duration retryAfter(HttpResponse<?> resp) {
        Optional<String> h = resp.headers().firstValue("Retry-After");
        if (h.isEmpty()) {
            return null;
        }
        String v = h.get().trim();
        try {
            return Duration.ofMillis(Math.max(0, (long) (Double.parseDouble(v) * 1000)));
        } catch (NumberFormatException e) {
            try {
                ZonedDateTime at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME);
                return Duration.ofMillis(Math.max(0, at.toInstant().toEpochMilli() - System.currentTimeMillis()));
            } catch (RuntimeException e2) {
                return null;
            }
        }
    }

    private static String errorField(String body, String field) {
        try {
            JsonObject o = JsonParser.parseString(body).getAsJsonObject();
            JsonElement e = o.getAsJsonObject("error").get(field);
            return e == null || e.isJsonNull() ? null : e.getAsString();
        } catch (RuntimeException e) {
            return null;
        }
    }

    private static String abbreviate(Object o) {
        String s = String.valueOf(o);
        return s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }

    private static void sleep(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new OpenAiException(-1, null, "interrupted while waiting to retry", e);
        }
    }

    @Override
    public void close() {
        if (http instanceof AutoCloseable) {
            try {
                ((AutoCloseable) http).close();
            } catch (Exception e) {
                // closing an idle client cannot fail in a way that matters
            }
        }
    }
}
