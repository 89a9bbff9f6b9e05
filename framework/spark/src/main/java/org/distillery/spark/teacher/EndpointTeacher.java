package org.distillery.spark.teacher;

import java.io.Serializable;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import org.distillery.api.model.Tokenizer;
import org.distillery.kit.openai.ClientOptions;
import org.distillery.kit.openai.OpenAiClient;
import org.distillery.kit.openai.OpenAiException;
import org.distillery.spark.InvalidInputException;

/**
 * A teacher behind an OpenAI-compatible endpoint, called from executors through the project's
 * client (retries with backoff on 429, 5xx, timeouts; a concurrency limit; an optional response
 * cache, so a retried task answers repeated requests from disk). This is the only class of the
 * module that uses the client. One client per executor JVM and endpoint.
 */
public final class EndpointTeacher {

    /**
     * Where and how to call.
     *
     * @param baseUrl e.g. {@code http://127.0.0.1:8000/v1}
     * @param model the endpoint's model id
     * @param apiKeyEnv environment variable holding the key on every executor, or empty
     * @param api {@code chat} or {@code completion}
     * @param concurrency requests in flight per executor JVM
     * @param maxRetries retries per request
     * @param timeoutSeconds per attempt
     * @param cacheDir response cache folder on each executor's disk, or empty for none
     */
    public record Settings(String baseUrl, String model, String apiKeyEnv, String api, int concurrency,
                           int maxRetries, long timeoutSeconds, String cacheDir) implements Serializable {

        /** Checks the settings on the driver; throws {@link InvalidInputException} naming the option. */
        public Settings {
            URI u;
            try {
                u = URI.create(baseUrl);
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("--endpoint: not a URL (got \"" + baseUrl + "\")");
            }
            if (u.getScheme() == null || !(u.getScheme().equals("http") || u.getScheme().equals("https"))
                    || u.getHost() == null) {
                throw new InvalidInputException("--endpoint: must be an http:// or https:// URL with a host (got \""
                        + baseUrl + "\")");
            }
            if (model == null || model.isBlank()) {
                throw new InvalidInputException("--model: the endpoint's model id is required");
            }
            if (!api.equals("chat") && !api.equals("completion")) {
                throw new InvalidInputException("--api: unknown value (got \"" + api + "\"; accepted: chat, completion)");
            }
            if (!apiKeyEnv.isEmpty() && !apiKeyEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
                throw new InvalidInputException("--api-key-env: not an environment variable name (got \"" + apiKeyEnv
                        + "\")");
            }
            if (concurrency < 1 || maxRetries < 0 || timeoutSeconds < 1) {
                throw new InvalidInputException("--concurrency must be >= 1, --max-retries >= 0, --timeout >= 1 s");
            }
        }
    }

    /**
     * A reply, or why the endpoint refused the request.
     *
     * @param text the reply
     * @param refusal the refusal (a 4xx answer such as a prompt too long), or {@code null}
     */
    public record Reply(String text, String refusal) {
    }

    private static final Map<Settings, OpenAiClient> CLIENTS = new HashMap<>();

    private EndpointTeacher() {
    }

    private static synchronized OpenAiClient client(Settings s) {
        return CLIENTS.computeIfAbsent(s, k -> {
            String key = null;
            if (!k.apiKeyEnv().isEmpty()) {
                key = System.getenv(k.apiKeyEnv());
                if (key == null || key.isEmpty()) {
                    throw new InvalidInputException("--api-key-env: " + k.apiKeyEnv() + " is not set on this executor");
                }
            }
            ClientOptions o = ClientOptions.of(URI.create(k.baseUrl()), k.model()).withApiKey(key)
                    .withConcurrency(k.concurrency()).withTimeout(Duration.ofSeconds(k.timeoutSeconds()))
                    .withRetries(k.maxRetries(), Duration.ofMillis(500), Duration.ofSeconds(30))
                    .withCache(k.cacheDir().isEmpty() ? null : Path.of(k.cacheDir()));
            return new OpenAiClient(o);
        });
    }

    /**
     * The endpoint's reply: a chat request of {@code turns}, or with {@code api = completion} a
     * completion of {@code completionPrompt}.
     */
    public static Reply generate(Settings s, List<Tokenizer.ChatTurn> turns, String completionPrompt, int maxTokens,
                                 double temperature, double topP, long seed) {
        JsonObject body = new JsonObject();
        boolean chat = s.api().equals("chat");
        if (chat) {
            JsonArray messages = new JsonArray();
            for (Tokenizer.ChatTurn t : turns) {
                JsonObject m = new JsonObject();
                m.addProperty("role", t.role());
                m.addProperty("content", t.content());
                messages.add(m);
            }
            body.add("messages", messages);
        } else {
            body.addProperty("prompt", completionPrompt);
        }
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", temperature);
        body.addProperty("top_p", topP);
        body.addProperty("seed", seed);
        OpenAiClient c = client(s);
        JsonObject r;
        try {
            r = chat ? c.chat(body) : c.complete(body);
        } catch (OpenAiException e) {
            if (e.status() >= 400 && e.status() < 500 && e.status() != 429 && e.status() != 401 && e.status() != 403
                    && e.status() != 404) {
                return new Reply(null, e.code() == null ? "http-" + e.status() : e.code());
            }
            throw new IllegalStateException("endpoint " + s.baseUrl() + " (model " + s.model() + "): "
                    + e.getMessage(), e);
        }
        try {
            JsonObject choice = r.getAsJsonArray("choices").get(0).getAsJsonObject();
            JsonElement text = chat ? choice.getAsJsonObject("message").get("content") : choice.get("text");
            return new Reply(text == null || text.isJsonNull() ? "" : text.getAsString(), null);
        } catch (RuntimeException e) {
            throw new IllegalStateException("unexpected answer from " + s.baseUrl() + ": " + e.getMessage(), e);
        }
    }
}
