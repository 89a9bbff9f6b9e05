package org.distillery.kit.openai;

import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

import org.distillery.api.InvalidConfigException;
import org.distillery.kit.config.Params;

/**
 * An {@code endpoint} parameter block, checked, and the {@link OpenAiClient} it describes: how a
 * contribution that talks to an OpenAI-compatible endpoint (a hosted API, or a Distillery model
 * served by {@code distill serve}) is configured.
 *
 * <pre>
 * endpoint {
 *   base-url = "http://127.0.0.1:8000/v1"   # or https://api.openai.com/v1
 *   model = teacher
 *   api-key-env = ""                        # e.g. OPENAI_API_KEY; the key itself never goes in a config
 *   api = chat                              # chat (/v1/chat/completions) | completion (/v1/completions)
 *   concurrency = 4, max-retries = 5, timeout = 120s
 *   cache-dir = ""                          # "" = the caller's work folder (or no cache without one)
 * }
 * </pre>
 *
 * @param baseUrl the server URL
 * @param model the model id sent with every request
 * @param apiKeyEnv the environment variable holding the API key, or {@code ""} for none
 * @param api {@code chat} or {@code completion}
 * @param concurrency requests in flight at most
 * @param maxRetries retries after the first attempt
 * @param timeout per attempt
 * @param cacheDir the response cache folder, or {@code ""} for the caller's default
 */
public record EndpointSettings(String baseUrl, String model, String apiKeyEnv, String api, int concurrency,
                               int maxRetries, Duration timeout, String cacheDir) {

    /** Reads and checks the block; every problem names its path in {@code p}. */
    public static EndpointSettings of(Params p) {
        String url = p.string("base-url");
        URI uri;
        try {
            uri = URI.create(url);
        } catch (IllegalArgumentException e) {
            throw new InvalidConfigException(p.at("base-url"), "not a URL", Params.quote(url), "http(s)://host:port/v1");
        }
        if (uri.getScheme() == null || !(uri.getScheme().equals("http") || uri.getScheme().equals("https"))
                || uri.getHost() == null) {
            throw new InvalidConfigException(p.at("base-url"), "must be an http:// or https:// URL with a host",
                    Params.quote(url), "e.g. http://127.0.0.1:8000/v1");
        }
        String model = p.string("model");
        if (model.isBlank()) {
            throw new InvalidConfigException(p.at("model"), "is required", "\"\"",
                    "the endpoint's model id, e.g. teacher or gpt-4o-mini");
        }
        String keyEnv = p.string("api-key-env");
        if (!keyEnv.isEmpty() && !keyEnv.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new InvalidConfigException(p.at("api-key-env"), "not an environment variable name",
                    Params.quote(keyEnv), "e.g. OPENAI_API_KEY");
        }
        Duration timeout;
        try {
            timeout = p.config().getDuration("timeout");
        } catch (com.typesafe.config.ConfigException e) {
            throw new InvalidConfigException(p.at("timeout"), "not a duration", null, "e.g. 120s");
        }
        if (timeout.isZero() || timeout.isNegative()) {
            throw new InvalidConfigException(p.at("timeout"), "must be positive", timeout.toString(), "e.g. 120s");
        }
        return new EndpointSettings(url, model, keyEnv, p.choice("api", "chat", "completion"),
                p.integer("concurrency", 1), p.integer("max-retries", 0), timeout, p.string("cache-dir"));
    }

    /** True for {@code api = chat}. */
    public boolean chat() {
        return api.equals("chat");
    }

    /** What provenance records of the endpoint (never the key). */
    public Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("base-url", baseUrl);
        m.put("model", model);
        m.put("api", api);
        m.put("api-key-env", apiKeyEnv);
        return m;
    }

    /**
     * The client options: the key read from {@code api-key-env} (failing at {@code path} when the
     * variable is unset), the cache in {@code cache-dir}, else in {@code workDir/http-cache}, else none.
     *
     * @param path the block's config path, for messages
     * @param workDir the caller's work folder, or {@code null}
     */
    public ClientOptions options(String path, Path workDir) {
        String key = null;
        if (!apiKeyEnv.isEmpty()) {
            key = System.getenv(apiKeyEnv);
            if (key == null || key.isEmpty()) {
                throw new InvalidConfigException(path + ".api-key-env", "the environment variable is not set",
                        apiKeyEnv, "export " + apiKeyEnv + "=<key>, or api-key-env = \"\" for no key");
            }
        }
        Path cache = cacheDir.isEmpty() ? (workDir == null ? null : workDir.resolve("http-cache")) : Path.of(cacheDir);
        return ClientOptions.of(URI.create(baseUrl), model).withApiKey(key).withConcurrency(concurrency)
                .withTimeout(timeout).withRetries(maxRetries, Duration.ofMillis(500), Duration.ofSeconds(30))
                .withCache(cache);
    }

    /** A client of {@link #options}. */
    public OpenAiClient client(String path, Path workDir) {
        return new OpenAiClient(options(path, workDir));
    }
}
