package org.distillery.dashboard.export;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;

import org.distillery.charts.RunLog;
import org.distillery.kernel.run.RunStatus;
import org.distillery.eval.RunComparison;

/**
 * Logs a run to an MLflow tracking server through its REST API (version 2.0 endpoints):
 * <ol>
 *   <li>the experiment by name ({@code GET experiments/get-by-name}, created with
 *       {@code POST experiments/create} when missing); by default the run's experiment name
 *       without its seed, so the seeds of one experiment land together;</li>
 *   <li>a run ({@code POST runs/create}) named after the run directory, with tags for the
 *       source, method, seed and status;</li>
 *   <li>params: the resolved {@code config.conf} flattened to dotted keys (lists as JSON), and
 *       metrics: every curve point as {@code <stage>/<metric>} at its step and time, plus each
 *       evaluated model's figures as {@code eval/<model>/<figure>}, all through
 *       {@code POST runs/log-batch} in batches within MLflow's limits (100 params, 1000 entities
 *       per request);</li>
 *   <li>artifacts: {@code config.conf}, {@code results.json}, {@code results.md},
 *       {@code report.html}, {@code events.jsonl} and {@code eval/*}, uploaded through the
 *       tracking server's artifact proxy ({@code PUT /api/2.0/mlflow-artifacts/artifacts/...},
 *       when the run's artifact URI is {@code mlflow-artifacts:} or http); model checkpoints are
 *       left out;</li>
 *   <li>the run's end ({@code POST runs/update}): FINISHED, FAILED or KILLED (stopped), or left
 *       RUNNING when the run still is.</li>
 * </ol>
 * Metric keys keep letters, digits, {@code _ - . /} and spaces; anything else becomes {@code _}.
 * Non-finite values are sent as {@code "NaN"} / {@code "Infinity"}, as protobuf's JSON mapping
 * writes them. Credentials come from {@code MLFLOW_TRACKING_TOKEN} (bearer) or
 * {@code MLFLOW_TRACKING_USERNAME} / {@code MLFLOW_TRACKING_PASSWORD} (basic), as MLflow's clients read them.
 */
public final class MlflowExport {

    static final int MAX_PARAMS_PER_BATCH = 100;
    static final int MAX_METRICS_PER_BATCH = 1000;
    static final int MAX_PARAM_VALUE = 6000;
    private static final Gson GSON = new Gson();

    /** A refusal or failure of the tracking server, with what was asked and what it answered. */
    public static final class MlflowException extends IOException {
        /** Creates it. */
        public MlflowException(String message) {
            super(message);
        }
    }

    /**
     * Options.
     *
     * @param trackingUri the server, e.g. {@code http://127.0.0.1:5000}
     * @param experiment the experiment's name, or null for the run's experiment name without its seed
     * @param artifacts whether to upload the artifacts
     * @param env where credentials are read ({@code System.getenv()} in production)
     */
    public record Options(URI trackingUri, String experiment, boolean artifacts, Map<String, String> env) {
    }

    /**
     * What was logged.
     *
     * @param experimentId the MLflow experiment
     * @param runId the MLflow run
     * @param params params logged
     * @param metrics metric values logged
     * @param artifacts files uploaded
     * @param requests REST calls made
     * @param skippedArtifacts why artifacts were not uploaded, or empty
     */
    public record Result(String experimentId, String runId, int params, long metrics, int artifacts, int requests,
                         String skippedArtifacts) {
    }

    private final Options options;
    private final HttpClient http;
    private final String base;
    private int requests;

    private MlflowExport(Options options) {
        this.options = options;
        String u = options.trackingUri().toString();
        this.base = u.endsWith("/") ? u.substring(0, u.length() - 1) : u;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    /** Logs the run directory to the tracking server. */
    public static Result export(Path runDir, Options options) throws IOException, InterruptedException {
        return new MlflowExport(options).run(runDir);
    }

    private Result run(Path runDir) throws IOException, InterruptedException {
        Config config = ConfigFactory.parseFile(runDir.resolve("config.conf").toFile(),
                ConfigParseOptions.defaults().setAllowMissing(false)).resolve();
        String name = config.hasPath("experiment.name") && !config.getString("experiment.name").isEmpty()
                ? config.getString("experiment.name") : runDir.getFileName().toString();
        long seed = config.hasPath("experiment.seed") ? config.getLong("experiment.seed") : 0;
        String experimentName = options.experiment() != null ? options.experiment() : RunComparison.groupName(name, seed);
        RunLog log = RunLog.read(runDir.resolve("events.jsonl"));
        RunStatus.Status status = RunStatus.read(runDir);

        String experimentId = experiment(experimentName);
        JsonObject create = new JsonObject();
        create.addProperty("experiment_id", experimentId);
        create.addProperty("run_name", runDir.getFileName().toString());
        create.addProperty("start_time", log.startedMillis() > 0 ? log.startedMillis() : System.currentTimeMillis());
        JsonArray tags = new JsonArray();
        tag(tags, "mlflow.runName", runDir.getFileName().toString());
        tag(tags, "mlflow.source.name", "distill");
        tag(tags, "mlflow.source.type", "LOCAL");
        tag(tags, "distillery.run-dir", runDir.toAbsolutePath().normalize().toString());
        tag(tags, "distillery.method", log.method());
        tag(tags, "distillery.seed", Long.toString(seed));
        tag(tags, "distillery.status", status.label());
        create.add("tags", tags);
        JsonObject run = post("runs/create", create).getAsJsonObject("run").getAsJsonObject("info");
        String runId = run.get("run_id").getAsString();
        String artifactUri = run.has("artifact_uri") ? run.get("artifact_uri").getAsString() : "";

        Map<String, String> params = params(config);
        List<Map.Entry<String, String>> plist = new ArrayList<>(params.entrySet());
        for (int i = 0; i < plist.size(); i += MAX_PARAMS_PER_BATCH) {
            JsonArray batch = new JsonArray();
            for (Map.Entry<String, String> p : plist.subList(i, Math.min(plist.size(), i + MAX_PARAMS_PER_BATCH))) {
                JsonObject o = new JsonObject();
                o.addProperty("key", p.getKey());
                o.addProperty("value", p.getValue());
                batch.add(o);
            }
            logBatch(runId, "params", batch);
        }

        List<JsonObject> metrics = metrics(runDir, log);
        for (int i = 0; i < metrics.size(); i += MAX_METRICS_PER_BATCH) {
            JsonArray batch = new JsonArray();
            metrics.subList(i, Math.min(metrics.size(), i + MAX_METRICS_PER_BATCH)).forEach(batch::add);
            logBatch(runId, "metrics", batch);
        }

        int uploaded = 0;
        String skipped = "";
        if (options.artifacts()) {
            String target = artifactBase(artifactUri);
            if (target == null) {
                skipped = "the run's artifact store (" + artifactUri + ") is not served by the tracking server; start "
                        + "it with artifact serving (mlflow server --serve-artifacts) or use --no-artifacts";
            } else {
                for (Path f : artifactFiles(runDir)) {
                    String rel = runDir.relativize(f).toString().replace('\\', '/');
                    put(target + "/" + encodePath(rel), Files.readAllBytes(f));
                    uploaded++;
                }
            }
        }

        if (status.state() != RunStatus.State.RUNNING) {
            JsonObject update = new JsonObject();
            update.addProperty("run_id", runId);
            update.addProperty("status", switch (status.state()) {
                case FINISHED -> "FINISHED";
                case FAILED -> "FAILED";
                default -> "KILLED";
            });
            update.addProperty("end_time", log.lastMillis() > 0 ? log.lastMillis() : System.currentTimeMillis());
            post("runs/update", update);
        }
        return new Result(experimentId, runId, params.size(), metrics.size(), uploaded, requests, skipped);
    }

    private String experiment(String name) throws IOException, InterruptedException {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base
                + "/api/2.0/mlflow/experiments/get-by-name?experiment_name=" + URLEncoder.encode(name,
                StandardCharsets.UTF_8))).GET(), "experiments/get-by-name");
        if (r.statusCode() == 200) {
            return parse(r, "experiments/get-by-name").getAsJsonObject("experiment").get("experiment_id").getAsString();
        }
        if (r.statusCode() != 404) {
            throw failure("experiments/get-by-name", r);
        }
        JsonObject create = new JsonObject();
        create.addProperty("name", name);
        return post("experiments/create", create).get("experiment_id").getAsString();
    }

    private void logBatch(String runId, String what, JsonArray items) throws IOException, InterruptedException {
        JsonObject body = new JsonObject();
        body.addProperty("run_id", runId);
        body.add("metrics", what.equals("metrics") ? items : new JsonArray());
        body.add("params", what.equals("params") ? items : new JsonArray());
        body.add("tags", new JsonArray());
        post("runs/log-batch", body);
    }

    /** The config as MLflow params: dotted keys, scalars as text, lists and empty objects as JSON. */
    static Map<String, String> params(Config config) {
        Map<String, String> out = new LinkedHashMap<>();
        flatten(config.root(), "", out);
        return out;
    }

    private static void flatten(ConfigValue v, String prefix, Map<String, String> out) {
        if (v.valueType() == ConfigValueType.OBJECT && !((com.typesafe.config.ConfigObject) v).isEmpty()) {
            ((com.typesafe.config.ConfigObject) v).keySet().stream().sorted().forEach(k ->
                    flatten(((com.typesafe.config.ConfigObject) v).get(k), prefix.isEmpty() ? k : prefix + "." + k, out));
            return;
        }
        String value = v.valueType() == ConfigValueType.LIST || v.valueType() == ConfigValueType.OBJECT
                ? v.render(ConfigRenderOptions.concise()) : String.valueOf(v.unwrapped());
        if (value.length() > MAX_PARAM_VALUE) {
            value = value.substring(0, MAX_PARAM_VALUE - 1) + "\u2026";
        }
        out.put(prefix.length() > 250 ? prefix.substring(0, 250) : prefix, value);
    }

    /** Every curve point, then each evaluated model's figures. */
    static List<JsonObject> metrics(Path runDir, RunLog log) throws IOException {
        List<JsonObject> out = new ArrayList<>();
        long fallback = log.startedMillis() > 0 ? log.startedMillis() : System.currentTimeMillis();
        for (RunLog.Series s : log.series()) {
            String key = metricKey((s.stage().isEmpty() ? "" : s.stage() + "/") + s.metric());
            double[] x = s.x();
            double[] y = s.y();
            long[] t = s.millis();
            for (int i = 0; i < x.length; i++) {
                out.add(metric(key, y[i], t[i] > 0 ? t[i] : fallback, (long) x[i]));
            }
        }
        Path eval = runDir.resolve("eval");
        if (Files.isDirectory(eval)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(eval)) {
                files = s.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList();
            }
            for (Path f : files) {
                String model = f.getFileName().toString().replaceFirst("\\.json$", "");
                long time = Files.getLastModifiedTime(f).toMillis();
                try {
                    JsonElement e = JsonParser.parseString(Files.readString(f));
                    if (e.isJsonObject() && e.getAsJsonObject().has("metrics")
                            && e.getAsJsonObject().get("metrics").isJsonObject()) {
                        for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().getAsJsonObject("metrics").entrySet()) {
                            if (m.getValue().isJsonPrimitive()) {
                                double v;
                                try {
                                    v = m.getValue().getAsDouble();
                                } catch (NumberFormatException nf) {
                                    continue;
                                }
                                out.add(metric(metricKey("eval/" + model + "/" + m.getKey()), v, time, 0));
                            }
                        }
                    }
                } catch (JsonParseException ex) {
                    throw new IOException(f + ": not JSON: " + ex.getMessage(), ex);
                }
            }
        }
        return out;
    }

    static String metricKey(String key) {
        String k = key.replaceAll("[^A-Za-z0-9_\\-. /]", "_");
        return k.length() > 250 ? k.substring(0, 250) : k;
    }

    private static JsonObject metric(String key, double value, long timestamp, long step) {
        JsonObject o = new JsonObject();
        o.addProperty("key", key);
        if (Double.isFinite(value)) {
            o.addProperty("value", value);
        } else {
            o.addProperty("value", Double.isNaN(value) ? "NaN" : value > 0 ? "Infinity" : "-Infinity");
        }
        o.addProperty("timestamp", timestamp);
        o.addProperty("step", step);
        return o;
    }

    private static void tag(JsonArray tags, String key, String value) {
        JsonObject o = new JsonObject();
        o.addProperty("key", key);
        o.addProperty("value", value);
        tags.add(o);
    }

    /** Where artifacts go over HTTP, or null when the store is not the tracking server's proxy or HTTP. */
    String artifactBase(String artifactUri) {
        if (artifactUri.startsWith("mlflow-artifacts:")) {
            String rest = artifactUri.substring("mlflow-artifacts:".length());
            if (rest.startsWith("//")) {
                // mlflow-artifacts://host:port/path: the path part on that server
                URI u = URI.create("http:" + rest);
                String server = u.getPort() > 0 ? "http://" + u.getHost() + ":" + u.getPort() : base;
                return server + "/api/2.0/mlflow-artifacts/artifacts" + u.getRawPath();
            }
            return base + "/api/2.0/mlflow-artifacts/artifacts" + (rest.startsWith("/") ? rest : "/" + rest);
        }
        if (artifactUri.startsWith("http://") || artifactUri.startsWith("https://")) {
            return artifactUri.endsWith("/") ? artifactUri.substring(0, artifactUri.length() - 1) : artifactUri;
        }
        return null;
    }

    private static List<Path> artifactFiles(Path runDir) throws IOException {
        List<Path> out = new ArrayList<>();
        for (String f : List.of("config.conf", "results.json", "results.md", "report.html", "events.jsonl")) {
            if (Files.isRegularFile(runDir.resolve(f))) {
                out.add(runDir.resolve(f));
            }
        }
        Path eval = runDir.resolve("eval");
        if (Files.isDirectory(eval)) {
            try (Stream<Path> s = Files.list(eval)) {
                s.filter(Files::isRegularFile).sorted().forEach(out::add);
            }
        }
        return out;
    }

    private static String encodePath(String rel) {
        List<String> parts = new ArrayList<>();
        for (String p : rel.split("/")) {
            parts.add(URLEncoder.encode(p, StandardCharsets.UTF_8).replace("+", "%20"));
        }
        return String.join("/", parts);
    }

    private JsonObject post(String endpoint, JsonObject body) throws IOException, InterruptedException {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(base + "/api/2.0/mlflow/" + endpoint))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(GSON.toJson(body))), endpoint);
        if (r.statusCode() != 200) {
            throw failure(endpoint, r);
        }
        return parse(r, endpoint);
    }

    private void put(String url, byte[] body) throws IOException, InterruptedException {
        HttpResponse<String> r = send(HttpRequest.newBuilder(URI.create(url))
                .header("Content-Type", "application/octet-stream")
                .PUT(HttpRequest.BodyPublishers.ofByteArray(body)), "artifact upload");
        if (r.statusCode() / 100 != 2) {
            throw failure("artifact upload " + url, r);
        }
    }

    /** Sends with up to three tries on 429 and 5xx answers and on connection failures. */
    private HttpResponse<String> send(HttpRequest.Builder b, String what) throws IOException, InterruptedException {
        auth(b);
        HttpRequest request = b.timeout(Duration.ofSeconds(60)).build();
        IOException last = null;
        for (int attempt = 0; attempt < 3; attempt++) {
            if (attempt > 0) {
                Thread.sleep(500L << attempt);
            }
            try {
                requests++;
                HttpResponse<String> r = http.send(request, HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 429 && r.statusCode() < 500) {
                    return r;
                }
                last = failure(what, r);
            } catch (java.net.ConnectException e) {
                last = new MlflowException("cannot reach the tracking server at " + base + " (" + what + "): "
                        + e.getMessage());
            }
        }
        throw last;
    }

    private void auth(HttpRequest.Builder b) {
        String token = options.env().get("MLFLOW_TRACKING_TOKEN");
        String user = options.env().get("MLFLOW_TRACKING_USERNAME");
        String pass = options.env().get("MLFLOW_TRACKING_PASSWORD");
        if (token != null && !token.isEmpty()) {
            b.header("Authorization", "Bearer " + token);
        } else if (user != null && pass != null) {
            b.header("Authorization", "Basic " + Base64.getEncoder().encodeToString((user + ":" + pass)
                    .getBytes(StandardCharsets.UTF_8)));
        }
    }

    private static JsonObject parse(HttpResponse<String> r, String what) throws MlflowException {
        try {
            return JsonParser.parseString(r.body()).getAsJsonObject();
        } catch (JsonParseException | IllegalStateException e) {
            throw new MlflowException(what + ": the tracking server answered " + r.statusCode()
                    + " with something that is not a JSON object: " + abbreviate(r.body()));
        }
    }

    private static MlflowException failure(String what, HttpResponse<String> r) {
        String detail = abbreviate(r.body());
        try {
            JsonObject o = JsonParser.parseString(r.body()).getAsJsonObject();
            if (o.has("message")) {
                detail = (o.has("error_code") ? o.get("error_code").getAsString() + ": " : "") + o.get("message").getAsString();
            }
        } catch (RuntimeException e) {
            // not JSON: keep the text
        }
        return new MlflowException(what + " failed: HTTP " + r.statusCode() + ": " + detail);
    }

    private static String abbreviate(String s) {
        return s == null ? "" : s.length() > 300 ? s.substring(0, 300) + "..." : s;
    }
}
