package org.distillery.kit.openai;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * How {@link OpenAiClient} talks to an endpoint.
 *
 * @param baseUrl the server, e.g. {@code http://127.0.0.1:8000} ({@code /v1/...} is appended;
 *     a base ending in {@code /v1} is accepted too)
 * @param model the model id sent when a request names none
 * @param apiKey sent as {@code Authorization: Bearer <key>}, or {@code null}
 * @param concurrency requests in flight at most
 * @param maxRetries retries after the first attempt (on 429, 5xx, timeouts and connection errors)
 * @param initialBackoff the first retry's wait; doubled per retry, with jitter
 * @param maxBackoff the longest wait between attempts (a longer {@code Retry-After} is still honoured)
 * @param timeout per attempt
 * @param cacheDir where responses are kept, or {@code null} for no cache
 */
public record ClientOptions(URI baseUrl, String model, String apiKey, int concurrency, int maxRetries,
                            Duration initialBackoff, Duration maxBackoff, Duration timeout, Path cacheDir) {

    /** Checks every field; throws {@link IllegalArgumentException} naming the bad one. */
    public ClientOptions {
        if (baseUrl == null || baseUrl.getScheme() == null
                || !(baseUrl.getScheme().equals("http") || baseUrl.getScheme().equals("https"))
                || baseUrl.getHost() == null) {
            throw new IllegalArgumentException("base-url: must be an http:// or https:// URL with a host (got " + baseUrl
                    + ")");
        }
        if (concurrency <= 0) {
            throw new IllegalArgumentException("concurrency: must be > 0 (got " + concurrency + ")");
        }
        if (maxRetries < 0) {
            throw new IllegalArgumentException("max-retries: must be >= 0 (got " + maxRetries + ")");
        }
        if (initialBackoff == null || initialBackoff.isNegative()) {
            throw new IllegalArgumentException("initial-backoff: must be >= 0 (got " + initialBackoff + ")");
        }
        if (maxBackoff == null || maxBackoff.compareTo(initialBackoff) < 0) {
            throw new IllegalArgumentException("max-backoff: must be >= initial-backoff (got " + maxBackoff + ")");
        }
        if (timeout == null || timeout.isZero() || timeout.isNegative()) {
            throw new IllegalArgumentException("timeout: must be > 0 (got " + timeout + ")");
        }
    }

    /** Defaults: 4 in flight, 5 retries from 500 ms up to 30 s, 120 s per attempt, no cache. */
    public static ClientOptions of(URI baseUrl, String model) {
        return new ClientOptions(baseUrl, model, null, 4, 5, Duration.ofMillis(500), Duration.ofSeconds(30),
                Duration.ofSeconds(120), null);
    }

    /** A copy with an API key. */
    public ClientOptions withApiKey(String key) {
        return new ClientOptions(baseUrl, model, key, concurrency, maxRetries, initialBackoff, maxBackoff, timeout,
                cacheDir);
    }

    /** A copy with other retry settings. */
    public ClientOptions withRetries(int retries, Duration initial, Duration max) {
        return new ClientOptions(baseUrl, model, apiKey, concurrency, retries, initial, max, timeout, cacheDir);
    }

    /** A copy with another per-attempt timeout. */
    public ClientOptions withTimeout(Duration t) {
        return new ClientOptions(baseUrl, model, apiKey, concurrency, maxRetries, initialBackoff, maxBackoff, t, cacheDir);
    }

    /** A copy with a response cache in {@code dir} ({@code null}: none). */
    public ClientOptions withCache(Path dir) {
        return new ClientOptions(baseUrl, model, apiKey, concurrency, maxRetries, initialBackoff, maxBackoff, timeout,
                dir);
    }

    /** A copy with another concurrency limit. */
    public ClientOptions withConcurrency(int n) {
        return new ClientOptions(baseUrl, model, apiKey, n, maxRetries, initialBackoff, maxBackoff, timeout, cacheDir);
    }
}
