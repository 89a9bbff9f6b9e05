package org.distillery.serve;

import java.time.Duration;

/**
 * How {@link OpenAiServer} listens, batches and limits requests.
 *
 * @param host address to bind; {@code 127.0.0.1} unless the operator asks otherwise
 * @param port TCP port; 0 picks a free one ({@link OpenAiServer#port()} tells which)
 * @param apiKey the key requests must present as {@code Authorization: Bearer <key>}, or {@code null} for none
 * @param modelName the id clients pass as {@code model} and {@code GET /v1/models} lists
 * @param batchWindow window scheduler: how long it waits for more requests after the first of a batch
 * @param maxBatchSize requests decoded together at most (the continuous scheduler's number of slots)
 * @param maxBodyBytes request bodies larger than this are refused with 413
 * @param maxTokensPerRequest the largest {@code max_tokens} accepted
 * @param maxPromptTokens the longest prompt accepted, in tokens
 * @param defaultMaxTokens {@code max_tokens} when the request gives none (capped by the context left)
 * @param handlerThreads threads answering HTTP requests (each waits for its decode)
 * @param shutdownGrace how long {@link OpenAiServer#close()} lets running requests finish
 * @param scheduling how concurrent requests share the model
 */
public record ServeOptions(String host, int port, String apiKey, String modelName, Duration batchWindow,
                           int maxBatchSize, long maxBodyBytes, int maxTokensPerRequest, int maxPromptTokens,
                           int defaultMaxTokens, int handlerThreads, Duration shutdownGrace, Scheduling scheduling) {

    /** The largest {@code top_logprobs} / {@code logprobs} a request may ask for, as OpenAI's API. */
    public static final int MAX_TOP_LOGPROBS = 20;

    /** How concurrent requests share the model. */
    public enum Scheduling {
        /**
         * Requests arriving within the batching window are decoded as one batch that runs until its
         * last row ends; requests arriving meanwhile wait for the next batch.
         */
        WINDOW,
        /**
         * Continuous batching: a request joins the running batch at the next decoding step when a
         * slot is free, and a finished row frees its slot at once.
         */
        CONTINUOUS;

        /** The name on the command line: {@code window} or {@code continuous}. */
        public String key() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }

        /** Reads {@link #key()}; throws {@link IllegalArgumentException} naming the accepted values. */
        public static Scheduling of(String key) {
            for (Scheduling s : values()) {
                if (s.key().equals(key)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("scheduler: '" + key + "' is not one of window, continuous");
        }
    }

    /** Loopback, ephemeral port, no key, continuous batching over 16 slots, 1 MiB bodies. */
    public static ServeOptions defaults(String modelName) {
        return new ServeOptions("127.0.0.1", 0, null, modelName, Duration.ofMillis(5), 16, 1 << 20, 1024, 4096, 256,
                64, Duration.ofSeconds(10), Scheduling.CONTINUOUS);
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
        if (scheduling == null) {
            throw new IllegalArgumentException("scheduler: must be window or continuous (got none)");
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
                maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace, scheduling);
    }

    /** A copy requiring {@code key} ({@code null}: none). */
    public ServeOptions withApiKey(String key) {
        return new ServeOptions(host, port, key, modelName, batchWindow, maxBatchSize, maxBodyBytes, maxTokensPerRequest,
                maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace, scheduling);
    }

    /** A copy with another batching window and batch size. */
    public ServeOptions withBatching(Duration window, int maxBatch) {
        return new ServeOptions(host, port, apiKey, modelName, window, maxBatch, maxBodyBytes, maxTokensPerRequest,
                maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace, scheduling);
    }

    /** A copy with other request limits. */
    public ServeOptions withLimits(long bodyBytes, int tokensPerRequest, int promptTokens) {
        return new ServeOptions(host, port, apiKey, modelName, batchWindow, maxBatchSize, bodyBytes, tokensPerRequest,
                promptTokens, defaultMaxTokens, handlerThreads, shutdownGrace, scheduling);
    }

    /** A copy scheduling requests with {@code s}. */
    public ServeOptions withScheduling(Scheduling s) {
        return new ServeOptions(host, port, apiKey, modelName, batchWindow, maxBatchSize, maxBodyBytes,
                maxTokensPerRequest, maxPromptTokens, defaultMaxTokens, handlerThreads, shutdownGrace, s);
    }
}
