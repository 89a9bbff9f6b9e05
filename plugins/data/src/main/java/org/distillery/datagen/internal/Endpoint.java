package org.distillery.datagen.internal;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;

import org.distillery.api.model.Tokenizer;
import org.distillery.kit.openai.EndpointSettings;
import org.distillery.kit.openai.OpenAiClient;
import org.distillery.kit.openai.OpenAiException;

/**
 * The teacher (or judge) as an OpenAI-compatible endpoint: a remote API and the embedded teacher
 * served on loopback ({@code distill serve}) take this same path. Built from an {@code endpoint}
 * parameter block (read by the kit's {@link EndpointSettings}):
 *
 * <pre>
 * endpoint {
 *   base-url = "http://127.0.0.1:8000/v1"   # or https://api.openai.com/v1
 *   model = teacher
 *   api-key-env = ""                        # e.g. OPENAI_API_KEY; the key itself never goes in a config
 *   api = chat                              # chat | completion
 *   concurrency = 4, max-retries = 5, timeout = 120s
 *   cache-dir = ""                          # "" = the stage's folder, so a resumed run pays nothing twice
 * }
 * </pre>
 *
 * Every request carries {@code temperature} and a {@code seed} derived from the generator's seed
 * and the request's index, so a run is repeatable on endpoints that honour {@code seed}.
 */
final class Endpoint implements AutoCloseable {

    /** A reply, or why there is none (the endpoint refused the request, e.g. context length). */
    record Reply(String text, String refusal) {
        boolean ok() {
            return refusal == null;
        }
    }

    private final EndpointSettings settings;
    private final OpenAiClient client;
    private final AtomicLong refused = new AtomicLong();

    private Endpoint(EndpointSettings settings, OpenAiClient client) {
        this.settings = settings;
        this.client = client;
    }

    /** Opens a client; {@code workDir} holds the response cache when the settings name none. */
    static Endpoint open(EndpointSettings s, String path, Path workDir) {
        return new Endpoint(s, s.client(path, workDir));
    }

    EndpointSettings settings() {
        return settings;
    }

    /** Requests the endpoint refused (4xx other than rate limits), so far. */
    long refused() {
        return refused.get();
    }

    /** HTTP calls and cache hits, for provenance. */
    Map<String, Object> usage() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("http-calls", client.httpCalls());
        m.put("cache-hits", client.cacheHits());
        m.put("retries", client.retries());
        m.put("refused", refused.get());
        return m;
    }

    /**
     * The reply to a conversation: a chat request, or with {@code api = completion} a completion of
     * {@code completionPrompt} (the caller renders the conversation in the teacher's own format).
     */
    Reply generate(List<Tokenizer.ChatTurn> turns, String completionPrompt, int maxTokens, double temperature,
                   double topP, long seed) {
        JsonObject body = new JsonObject();
        if (settings.chat()) {
            body.add("messages", OpenAiClient.messages(turns));
        } else {
            body.addProperty("prompt", completionPrompt);
        }
        body.addProperty("max_tokens", maxTokens);
        body.addProperty("temperature", temperature);
        body.addProperty("top_p", topP);
        body.addProperty("seed", seed);
        try {
            JsonObject r = settings.chat() ? client.chat(body) : client.complete(body);
            JsonObject choice = r.getAsJsonArray("choices").get(0).getAsJsonObject();
            JsonElement text = settings.chat() ? choice.getAsJsonObject("message").get("content")
                    : choice.get("text");
            return new Reply(text == null || text.isJsonNull() ? "" : text.getAsString(), null);
        } catch (OpenAiException e) {
            return refusal(e);
        } catch (RuntimeException e) {
            throw new IllegalStateException("unexpected answer from " + settings.baseUrl() + ": " + e.getMessage(), e);
        }
    }

    /**
     * The endpoint's mean log-probability of {@code continuation} after {@code prefix}
     * ({@code /v1/completions} with {@code echo}, {@code logprobs} and {@code max_tokens: 0}), or a refusal.
     */
    Reply meanLogProb(String prefix, String continuation) {
        JsonObject body = new JsonObject();
        String all = prefix + continuation;
        body.addProperty("prompt", all);
        body.addProperty("max_tokens", 0);
        body.addProperty("echo", true);
        body.addProperty("logprobs", 0);
        body.addProperty("temperature", 0.0);
        try {
            JsonObject lp = client.complete(body).getAsJsonArray("choices").get(0).getAsJsonObject()
                    .getAsJsonObject("logprobs");
            JsonArray tokens = lp.getAsJsonArray("tokens");
            JsonArray values = lp.getAsJsonArray("token_logprobs");
            JsonArray offsets = lp.getAsJsonArray("text_offset");
            int echoed = 0;
            for (JsonElement t : tokens) {
                echoed += t.getAsString().length();
            }
            // the continuation is the tail of the echoed text (which may start with a bos token's text)
            int start = echoed - continuation.length();
            double sum = 0;
            int n = 0;
            for (int i = 0; i < values.size(); i++) {
                if (offsets.get(i).getAsInt() >= start && !values.get(i).isJsonNull()) {
                    sum += values.get(i).getAsDouble();
                    n++;
                }
            }
            if (n == 0) {
                return new Reply(null, "no-scored-tokens");
            }
            return new Reply(Double.toString(sum / n), null);
        } catch (OpenAiException e) {
            return refusal(e);
        } catch (RuntimeException e) {
            throw new IllegalStateException(settings.baseUrl() + " did not answer echo log-probabilities ("
                    + e.getMessage() + "); use scorer = judge with this endpoint", e);
        }
    }

    private Reply refusal(OpenAiException e) {
        // a request the endpoint refuses (too long for its context, content policy) drops one sample;
        // an endpoint that is down or keeps failing stops the stage
        if (e.status() >= 400 && e.status() < 500 && e.status() != 429 && e.status() != 401 && e.status() != 403
                && e.status() != 404) {
            refused.incrementAndGet();
            return new Reply(null, e.code() == null ? "http-" + e.status() : e.code());
        }
        throw new IllegalStateException("endpoint " + settings.baseUrl() + " (model " + settings.model() + "): "
                + e.getMessage(), e);
    }

    @Override
    public void close() {
        client.close();
    }
}
