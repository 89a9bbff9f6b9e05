package org.distillery.kit.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.kit.config.Params;
import org.junit.jupiter.api.Test;

/** An endpoint block read, checked, and turned into client options. */
class EndpointSettingsTest {

    private static final String BLOCK = "base-url = \"http://127.0.0.1:8000/v1\", model = teacher, api-key-env = \"\", "
            + "api = completion, concurrency = 3, max-retries = 2, timeout = 30s, cache-dir = \"\"";

    private static Params block(String overrides) {
        return Params.of(ConfigFactory.parseString(overrides).withFallback(ConfigFactory.parseString(BLOCK)),
                "teacher.params.endpoint");
    }

    @Test
    void aGoodBlockGivesItsOptions() {
        EndpointSettings s = EndpointSettings.of(block(""));
        assertEquals(false, s.chat());
        assertEquals(Duration.ofSeconds(30), s.timeout());
        ClientOptions o = s.options("x", Path.of("/tmp/work"));
        assertEquals(3, o.concurrency());
        assertEquals(2, o.maxRetries());
        assertEquals(Path.of("/tmp/work/http-cache"), o.cacheDir());
        assertNull(o.apiKey());
        assertNull(s.options("x", null).cacheDir(), "no cache without a folder");
        assertEquals(Path.of("/c"), EndpointSettings.of(block("cache-dir = /c")).options("x", null).cacheDir());
        assertEquals(Map.of("base-url", "http://127.0.0.1:8000/v1", "model", "teacher", "api", "completion",
                "api-key-env", ""), s.describe());
    }

    @Test
    void badValuesNameTheirPath() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> EndpointSettings.of(block("base-url = \"ftp://x\"")));
        assertTrue(e.getMessage().startsWith("teacher.params.endpoint.base-url"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> EndpointSettings.of(block("model = \"\"")));
        assertTrue(e.getMessage().startsWith("teacher.params.endpoint.model"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> EndpointSettings.of(block("api-key-env = \"1KEY\"")));
        assertTrue(e.getMessage().startsWith("teacher.params.endpoint.api-key-env"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> EndpointSettings.of(block("api = rest")));
        assertTrue(e.getMessage().startsWith("teacher.params.endpoint.api: unknown choice"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> EndpointSettings.of(block("timeout = 0s")));
        assertTrue(e.getMessage().startsWith("teacher.params.endpoint.timeout"), e.getMessage());
        EndpointSettings unset = EndpointSettings.of(block("api-key-env = DISTILLERY_TEST_UNSET_KEY_VARIABLE"));
        e = assertThrows(InvalidConfigException.class, () -> unset.options("teacher.params.endpoint", null));
        assertTrue(e.getMessage().startsWith("teacher.params.endpoint.api-key-env: the environment variable is not set"),
                e.getMessage());
    }
}
