package org.distillery.teachers.remote;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.openai.ClientOptions;
import org.distillery.kit.openai.OpenAiClient;
import org.distillery.kit.openai.OpenAiException;
import org.distillery.kit.teacher.TopKBatch;

/**
 * {@code teacher.remote}: the top-k next-token log-probabilities of an OpenAI-compatible
 * endpoint at every position of a batch, for gray-box distillation with the kd-core losses.
 *
 * <p>Each batch row (right-padded, as {@code teacher.cached} expects: the inputs where the
 * attention mask is 1, then the last target) is sent as token ids to {@code /v1/completions}
 * with {@code echo: true, max_tokens: 0, logprobs: k, return_tokens_as_token_ids: true}; the
 * endpoint's log-probabilities of prompt token t+1 are the teacher's answer at position t, the
 * same convention as the cache (position t predicts {@code targets[t]}). The mass outside the top
 * k becomes {@code restLogMass}. Padding positions hold the cache's harmless distribution: ids
 * {@code 0..k-1}, log-probability 0 for the first and {@code -}{@link #FLOOR} elsewhere. Rows go
 * out in parallel (bounded by the client's concurrency) and through its disk cache.
 *
 * <p>The endpoint must use the run's tokenizer: {@link Factory#open} compares the fingerprint
 * that {@code GET /v1/models} reports (Distillery's server does) with the run's.
 */
public final class RemoteTeacher implements Teacher {

    /** Registry key. */
    public static final String KEY = "teacher.remote";

    /** The magnitude standing in for log 0. */
    public static final float FLOOR = 1e4f;

    private static final String TOKEN_ID = "token_id:";

    private final OpenAiClient client;
    private final int k;
    private final ExecutorService pool;

    /** A teacher asking {@code client}'s endpoint for the top {@code k}; it closes the client. */
    public RemoteTeacher(OpenAiClient client, int k) {
        if (k < 1 || k > 20) {
            throw new IllegalArgumentException("top-k must be in 1..20 (got " + k + ")");
        }
        this.client = client;
        this.k = k;
        this.pool = Executors.newFixedThreadPool(client.options().concurrency(), r -> {
            Thread t = new Thread(r, "teacher-remote");
            t.setDaemon(true);
            return t;
        });
    }

    /** The client, for black-box use (generation) next to scoring. */
    public OpenAiClient client() {
        return client;
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        if (hiddenStates) {
            throw new IllegalArgumentException("teacher.remote gives the endpoint's top-k log-probabilities only, not "
                    + "its hidden states; losses that need them (e.g. kd.hidden) need teacher.local");
        }
        TopKBatch out = TopKBatch.of(batch, k, FLOOR, KEY);
        List<CompletableFuture<Void>> rows = new ArrayList<>();
        for (TopKBatch.Row row : out.rows()) {
            rows.add(CompletableFuture.runAsync(() -> {
                Scores scores = scoreSequence(row.sequence());
                out.fill(row, scores.ids(), scores.logProbs(), scores.rest());
            }, pool));
        }
        try {
            CompletableFuture.allOf(rows.toArray(CompletableFuture[]::new)).join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException re) {
                throw re;
            }
            throw e;
        }
        return out.build(manager);
    }

    /**
     * The endpoint's answer for one sequence.
     *
     * @param ids [n - 1][k] top ids at each position t (predicting token t + 1), best first
     * @param logProbs [n - 1][k] their log-probabilities
     * @param rest [n - 1] log of the mass outside them
     */
    public record Scores(int[][] ids, float[][] logProbs, float[] rest) {
    }

    /** Asks the endpoint for the top-k at every position of {@code seq} (token ids, bos included). */
    public Scores scoreSequence(int[] seq) {
        JsonObject body = new JsonObject();
        JsonArray prompt = new JsonArray();
        for (int id : seq) {
            prompt.add(id);
        }
        body.add("prompt", prompt);
        body.addProperty("max_tokens", 0);
        body.addProperty("echo", true);
        body.addProperty("logprobs", k);
        body.addProperty("temperature", 0);
        body.addProperty("return_tokens_as_token_ids", true);
        // a response cut short or of the wrong shape is retried (and never cached) like a 5xx
        return client.complete(body, r -> read(r, seq));
    }

    /** The top-k of a {@code /v1/completions} echo response for {@code seq}; throws when it has another shape. */
    private Scores read(JsonObject r, int[] seq) {
        JsonObject lp;
        try {
            lp = r.getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        } catch (RuntimeException e) {
            throw bad("the response has no choices[0].logprobs", e);
        }
        if (lp == null) {
            throw bad("the response has no choices[0].logprobs (does the endpoint support echo with logprobs?)", null);
        }
        JsonArray tokens = lp.getAsJsonArray("tokens");
        JsonArray tops = lp.getAsJsonArray("top_logprobs");
        if (tokens == null || tops == null || tokens.size() < seq.length || tops.size() < seq.length) {
            throw bad("echoed " + (tokens == null ? 0 : tokens.size()) + " prompt tokens for " + seq.length
                    + " sent (does the endpoint support echo with max_tokens 0?)", null);
        }
        for (int t = 0; t < seq.length; t++) {
            int echoed = tokenId(tokens.get(t));
            if (echoed != seq[t]) {
                throw bad("echoed token " + t + " is " + tokens.get(t) + ", not the id " + seq[t] + " that was sent", null);
            }
        }
        int n = seq.length - 1;
        int[][] ids = new int[n][k];
        float[][] lps = new float[n][k];
        float[] rest = new float[n];
        for (int t = 0; t < n; t++) {
            JsonElement e = tops.get(t + 1);
            if (e == null || !e.isJsonObject()) {
                throw bad("top_logprobs[" + (t + 1) + "] is not an object", null);
            }
            List<Map.Entry<Integer, Float>> entries = new ArrayList<>();
            for (Map.Entry<String, JsonElement> en : e.getAsJsonObject().entrySet()) {
                float v;
                try {
                    v = en.getValue().getAsFloat();
                } catch (RuntimeException ex) {
                    throw bad("top_logprobs[" + (t + 1) + "] has the non-numeric value " + en.getValue(), ex);
                }
                entries.add(Map.entry(tokenId(new com.google.gson.JsonPrimitive(en.getKey())), v));
            }
            entries.sort((a, c) -> a.getValue().equals(c.getValue()) ? Integer.compare(a.getKey(), c.getKey())
                    : Float.compare(c.getValue(), a.getValue()));
            double mass = 0;
            java.util.Set<Integer> used = new java.util.HashSet<>();
            int j = 0;
            for (Map.Entry<Integer, Float> en : entries) {
                if (j == k) {
                    break;
                }
                ids[t][j] = en.getKey();
                float v = en.getValue();
                lps[t][j] = Float.isInfinite(v) || Float.isNaN(v) ? -FLOOR : Math.max(v, -FLOOR);
                mass += Math.exp(lps[t][j]);
                used.add(en.getKey());
                j++;
            }
            for (int filler = 0; j < k; filler++) {
                if (!used.contains(filler)) {
                    ids[t][j] = filler;
                    lps[t][j] = -FLOOR;
                    j++;
                }
            }
            rest[t] = mass < 1 ? (float) Math.max(Math.log1p(-mass), -FLOOR) : -FLOOR;
        }
        return new Scores(ids, lps, rest);
    }

    private static int tokenId(JsonElement e) {
        String s = e.isJsonPrimitive() ? e.getAsString() : String.valueOf(e);
        if (!s.startsWith(TOKEN_ID)) {
            throw bad("the endpoint returned the token " + e + " as text, not as \"token_id:<id>\"; gray-box scoring needs "
                    + "return_tokens_as_token_ids (distill serve and vLLM support it)", null);
        }
        try {
            return Integer.parseInt(s.substring(TOKEN_ID.length()));
        } catch (NumberFormatException ex) {
            throw bad("unreadable token " + s, ex);
        }
    }

    private static OpenAiException bad(String what, Throwable cause) {
        return new OpenAiException(200, null, "teacher.remote: " + what, cause);
    }

    @Override
    public Optional<LanguageModel> model() {
        return Optional.empty();
    }

    @Override
    public String identity() {
        return "remote:" + client.options().baseUrl() + " model " + client.options().model();
    }

    @Override
    public void close() {
        pool.shutdownNow();
        client.close();
    }

    /**
     * Fails unless the endpoint reports serving {@code model} with {@code tokenizer}'s vocabulary
     * (Distillery's {@code GET /v1/models} gives {@code distillery.tokenizer_fingerprint}).
     */
    public static void checkTokenizer(OpenAiClient client, String model, Tokenizer tokenizer, String tokenizerWhere) {
        checkTokenizer(client, model, tokenizer, tokenizerWhere, "teacher.params.");
    }

    /** As {@link #checkTokenizer(OpenAiClient, String, Tokenizer, String)}, naming parameters under {@code p}. */
    static void checkTokenizer(OpenAiClient client, String model, Tokenizer tokenizer, String tokenizerWhere, String p) {
        JsonObject models = client.models();
        JsonObject found = null;
        JsonArray data = models.has("data") && models.get("data").isJsonArray() ? models.getAsJsonArray("data")
                : new JsonArray();
        List<String> names = new ArrayList<>();
        for (JsonElement e : data) {
            if (e.isJsonObject() && e.getAsJsonObject().has("id")) {
                String id = e.getAsJsonObject().get("id").getAsString();
                names.add(id);
                if (id.equals(model)) {
                    found = e.getAsJsonObject();
                }
            }
        }
        if (found == null) {
            throw new InvalidConfigException(p + "model", "the endpoint " + client.options().baseUrl()
                    + " does not serve it", model, names.isEmpty() ? "a model the endpoint lists" : String.join(", ", names));
        }
        JsonObject info = found.has("distillery") && found.get("distillery").isJsonObject()
                ? found.getAsJsonObject("distillery") : null;
        if (info == null || !info.has("tokenizer_fingerprint")) {
            throw new InvalidConfigException(p + "check-tokenizer", "the endpoint does not report its "
                    + "tokenizer, so it cannot be checked against the run's (" + tokenizerWhere + ")", "true",
                    "false, only for an endpoint known to use the run's tokenizer");
        }
        String theirs = info.get("tokenizer_fingerprint").getAsString();
        if (!theirs.equals(tokenizer.fingerprint())) {
            throw new InvalidConfigException(p + "model", "the endpoint's tokenizer is " + theirs
                    + ", but the run's (" + tokenizerWhere + ") is " + tokenizer.fingerprint()
                    + "; gray-box distillation needs the same vocabulary", model,
                    "a model served with the run's tokenizer");
        }
    }

    /** The factory; see {@code distillery-serve.conf} for the parameters. */
    public static final class Factory implements TeacherFactory {

        @Override
        public String description() {
            return "an OpenAI-compatible endpoint's top-k log-probabilities (e.g. distill serve), cached on disk";
        }

        @Override
        public Teacher open(TeacherContext context, Config params) {
            String p = context.paramsPath() + ".";
            String url = params.getString("base-url");
            if (url.isEmpty()) {
                throw new InvalidConfigException(p + "base-url", "is required", "\"\"",
                        "an http:// or https:// URL such as http://127.0.0.1:8000 (distill serve prints it)");
            }
            String model = params.getString("model");
            if (model.isEmpty()) {
                throw new InvalidConfigException(p + "model", "is required", "\"\"", "the model id the endpoint serves");
            }
            String keyEnv = params.getString("api-key-env");
            String key = null;
            if (!keyEnv.isEmpty()) {
                key = System.getenv(keyEnv);
                if (key == null || key.isEmpty()) {
                    throw new InvalidConfigException(p + "api-key-env", "names an environment variable that is not set",
                            keyEnv, "the name of a set environment variable holding the key");
                }
            }
            int topK = params.getInt("top-k");
            if (topK < 1 || topK > 20) {
                throw new InvalidConfigException(p + "top-k", "must be in 1..20", Integer.toString(topK), "1..20");
            }
            String cacheDir = params.getString("cache-dir");
            Path cache = null;
            if (!cacheDir.isEmpty()) {
                cache = Path.of(cacheDir);
                if (!cache.isAbsolute()) {
                    cache = context.sharedDir().resolve(cache);
                }
            }
            ClientOptions opts;
            try {
                opts = new ClientOptions(URI.create(url), model, key, params.getInt("concurrency"),
                        params.getInt("max-retries"), duration(params, "initial-backoff", p),
                        duration(params, "max-backoff", p), duration(params, "timeout", p), cache);
            } catch (IllegalArgumentException e) {
                String msg = e.getMessage() == null ? "" : e.getMessage();
                int colon = msg.indexOf(':');
                String field = colon > 0 && !msg.startsWith("Illegal") ? msg.substring(0, colon) : "base-url";
                throw new InvalidConfigException(p + field, colon > 0 ? msg.substring(colon + 1).trim() : msg,
                        field.equals("base-url") ? url : null, null);
            }
            OpenAiClient client = new OpenAiClient(opts);
            try {
                if (params.getBoolean("check-tokenizer")) {
                    Path tokDir = context.tokenizerDir();
                    try {
                        checkTokenizer(client, model, context.tokenizer(), tokDir == null ? "built in" : tokDir.toString(),
                                p);
                    } catch (OpenAiException e) {
                        throw new InvalidConfigException(p + "base-url", "cannot reach the endpoint: " + e.getMessage(),
                                url, "a running OpenAI-compatible server");
                    }
                }
            } catch (RuntimeException e) {
                client.close();
                throw e;
            }
            Map<String, Object> ev = new LinkedHashMap<>();
            ev.put("base_url", url);
            ev.put("model", model);
            ev.put("top_k", topK);
            ev.put("cache_dir", cache == null ? "" : cache.toString());
            ev.put("api_key_env", keyEnv);
            context.resources().events().event("teacher-remote", ev);
            return new RemoteTeacher(client, topK);
        }

        private static Duration duration(Config params, String name, String p) {
            try {
                return params.getDuration(name);
            } catch (ConfigException e) {
                throw new InvalidConfigException(p + name, "is not a duration", params.getValue(name).render(),
                        "a duration such as 500ms, 30s or 2m");
            }
        }
    }
}
