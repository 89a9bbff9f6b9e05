package org.distillery.serve;

import java.time.Duration;

/**
 * How {@link OpenAiServer} listens, batches and limits requests.
 *
 * @param host address to bind; {@code 127.0.0.1} unless the operator asks otherwise
 * @param port TCP port; 0 picks a free one ({@link OpenAiServer#port()} tells which)
 * @param apiKey the key requests must present as {@code Authorization: Bearer <key>}, or {@code null} for none
 * @param modelName the id clients pass as {@code model} and {@code GET /v1/models} lists
 * @param batchWindow how long the scheduler waits for more requests after the first of a batch
 * @param maxBatchSize requests decoded together at most
 * @param maxBodyBytes request bodies larger than this are refused with 413
 * @param maxTokensPerRequest the largest {@code max_tokens} accepted
 * @param maxPromptTokens the longest prompt accepted, in tokens
 * @param defaultMaxTokens {@code max_tokens} when the request gives none (capped by the context left)
 * @param handlerThreads threads answering HTTP requests (each waits for its decode)
 * @param shutdownGrace how long {@link OpenAiServer#close()} lets running requests finish
 */
public record ServeOptions(String host, int port, String apiKey, String modelName, Duration batchWindow,
                           int maxBatchSize, long maxBodyBytes, int maxTokensPerRequest, int maxPromptTokens,
                           int defaultMaxTokens, int handlerThreads, Duration shutdownGrace) {

    /** The largest {@code top_logprobs} / {@code logprobs} a request may ask for, as OpenAI's API. */
    public static final int MAX_TOP_LOGPROBS = 20;

    /** Loopback, ephemeral port, no key, 5 ms window, batches of 16, 1 MiB bodies. */
    public static ServeOptions defaults(String modelName) {
        return new ServeOptions("127.0.0.1", 0, null, modelName, Duration.ofMillis(5), 16, 1 << 20, 1024, 4096, 256,
                64, Duration.ofSeconds(10));
    }

    /** Checks every field; throws {@link IllegalArgumentException} naming the bad one. */
    public ServeOptions {
        if (host == null || host.isBlank()) {
            throw new IllegalArgumentException("host: must not be empty");
        }
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("port: must be in 0..65535 (got " + port + ")");
        }
        if (apiKey != null && apiKey.isEmpty()) {
            throw new IllegalArgumentException("api key: must not be empty when set");
        }
        if (modelName == null || modelName.isBlank()) {
            throw new IllegalArgumentException("model name: must not be empty");
        }
        if (batchWindow == null || batchWindow.isNegative()) {
            throw new IllegalArgumentException("batch window: must be >= 0 (got " + batchWindow + ")");
        }
        positive("max batch size", maxBatchSize);
        positive("max body bytes", maxBodyBytes);
        positive("max tokens per request", maxTokensPerRequest);
        positive("max prompt tokens", maxPromptTokens);
        positive("default max tokens", defaultMaxTokens);
        positive("handler threads", handlerThreads);
        if (shutdownGrace == null || shutdownGrace.isNegative()) {
            throw new IllegalArgumentException("shutdown grace: must be >= 0 (got " + shutdownGrace + ")");
        }
    }

    private static void positive(String what, long v) {
        if (v <= 0) {
            throw new IllegalArgumentException(what + ": must be > 0 (got " + v + ")");
        }
    }

    /** A copy listening on {@code h}:{@code p}. */
    public ServeOptions withAddress(String h, int p) {
        return new ServeOptions(h, p, apiKey, modelName, batchWindow, maxBatchSize, maxBodyBytes, maxTokensPerRequest,
                maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace);
    }

    /** A copy requiring {@code key} ({@code null}: none). */
    public ServeOptions withApiKey(String key) {
        return new ServeOptions(host, port, key, modelName, batchWindow, maxBatchSize, maxBodyBytes, maxTokensPerRequest,
                maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace);
    }

    /** A copy with another batching window and batch size. */
    public ServeOptions withBatching(Duration window, int maxBatch) {
        return new ServeOptions(host, port, apiKey, modelName, window, maxBatch, maxBodyBytes, maxTokensPerRequest,
                maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace);
    }

    /** A copy with other request limits. */
    public ServeOptions withLimits(long bodyBytes, int tokensPerRequest, int promptTokens) {
        return new ServeOptions(host, port, apiKey, modelName, batchWindow, maxBatchSize, bodyBytes, tokensPerRequest,
                promptTokens, defaultMaxTokens, handlerThreads, shutdownGrace);
    }
}
