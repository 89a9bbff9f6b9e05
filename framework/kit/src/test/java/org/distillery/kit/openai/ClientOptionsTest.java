package org.distillery.kit.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.function.Supplier;

import org.junit.jupiter.api.Test;

/** {@link ClientOptions}: the defaults, the copies, and every field check naming its field. */
class ClientOptionsTest {

    private static final URI LOCAL = URI.create("http://127.0.0.1:8000");

    @Test
    void defaults() {
        ClientOptions o = ClientOptions.of(LOCAL, "teacher");
        assertEquals(LOCAL, o.baseUrl());
        assertEquals("teacher", o.model());
        assertNull(o.apiKey());
        assertEquals(4, o.concurrency());
        assertEquals(5, o.maxRetries());
        assertEquals(Duration.ofMillis(500), o.initialBackoff());
        assertEquals(Duration.ofSeconds(30), o.maxBackoff());
        assertEquals(Duration.ofSeconds(120), o.timeout());
        assertNull(o.cacheDir());
    }

    @Test
    void copiesChangeOneThing() {
        ClientOptions o = ClientOptions.of(URI.create("https://api.example.org/v1"), "m");
        ClientOptions all = o.withApiKey("k").withRetries(2, Duration.ofMillis(1), Duration.ofMillis(2))
                .withTimeout(Duration.ofSeconds(3)).withCache(Path.of("cache")).withConcurrency(9);
        assertEquals(new ClientOptions(o.baseUrl(), "m", "k", 9, 2, Duration.ofMillis(1), Duration.ofMillis(2),
                Duration.ofSeconds(3), Path.of("cache")), all);
        assertNull(all.withCache(null).cacheDir());
        assertEquals("k", all.withCache(null).apiKey());
    }

    @Test
    void everyFieldIsChecked() {
        assertRefused("base-url", () -> ClientOptions.of(URI.create("ftp://host/x"), "m"));
        assertRefused("base-url", () -> ClientOptions.of(URI.create("localhost:8000"), "m"));
        assertRefused("base-url", () -> ClientOptions.of(URI.create("http:///v1"), "m"));
        assertRefused("base-url", () -> ClientOptions.of(null, "m"));
        ClientOptions ok = ClientOptions.of(LOCAL, "m");
        assertRefused("concurrency", () -> ok.withConcurrency(0));
        assertRefused("max-retries", () -> ok.withRetries(-1, Duration.ZERO, Duration.ZERO));
        assertRefused("initial-backoff", () -> ok.withRetries(1, Duration.ofMillis(-1), Duration.ZERO));
        assertRefused("initial-backoff", () -> ok.withRetries(1, null, Duration.ZERO));
        assertRefused("max-backoff", () -> ok.withRetries(1, Duration.ofSeconds(2), Duration.ofSeconds(1)));
        assertRefused("timeout", () -> ok.withTimeout(Duration.ZERO));
        assertRefused("timeout", () -> ok.withTimeout(null));
        ok.withRetries(0, Duration.ZERO, Duration.ZERO);
    }

    private static void assertRefused(String field, Supplier<ClientOptions> build) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, build::get);
        assertTrue(e.getMessage().startsWith(field + ": "), e.getMessage());
    }
}
