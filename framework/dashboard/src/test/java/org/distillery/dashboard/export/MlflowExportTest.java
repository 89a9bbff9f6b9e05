package org.distillery.dashboard.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MlflowExportTest {

    /** A call the stub received. */
    record Call(String method, String path, String query, String auth, byte[] body) {
        JsonObject json() {
            return JsonParser.parseString(new String(body, StandardCharsets.UTF_8)).getAsJsonObject();
        }
    }

    @TempDir
    Path dir;

    HttpServer stub;
    final List<Call> calls = Collections.synchronizedList(new ArrayList<>());
    boolean experimentExists;
    String artifactUri = "mlflow-artifacts:/7/abc123/artifacts";
    int failLogBatch;

    @BeforeEach
    void startStub() throws IOException {
        stub = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
        stub.createContext("/", this::handle);
        stub.start();
    }

    @AfterEach
    void stopStub() {
        stub.stop(0);
    }

    /** What an MLflow 2.x tracking server answers, reduced to the calls the exporter makes. */
    private void handle(HttpExchange ex) throws IOException {
        byte[] body = ex.getRequestBody().readAllBytes();
        String path = ex.getRequestURI().getRawPath();
        calls.add(new Call(ex.getRequestMethod(), path, ex.getRequestURI().getRawQuery(),
                ex.getRequestHeaders().getFirst("Authorization"), body));
        String answer;
        int status = 200;
        switch (ex.getRequestMethod() + " " + path) {
            case "GET /api/2.0/mlflow/experiments/get-by-name" -> {
                if (experimentExists) {
                    answer = "{\"experiment\":{\"experiment_id\":\"7\",\"name\":\"watch\"}}";
                } else {
                    status = 404;
                    answer = "{\"error_code\":\"RESOURCE_DOES_NOT_EXIST\",\"message\":\"Could not find experiment\"}";
                }
            }
            case "POST /api/2.0/mlflow/experiments/create" -> answer = "{\"experiment_id\":\"7\"}";
            case "POST /api/2.0/mlflow/runs/create" -> answer = "{\"run\":{\"info\":{\"run_id\":\"abc123\","
                    + "\"experiment_id\":\"7\",\"artifact_uri\":\"" + artifactUri + "\"}}}";
            case "POST /api/2.0/mlflow/runs/log-batch" -> {
                if (failLogBatch > 0) {
                    failLogBatch--;
                    status = 503;
                    answer = "{\"error_code\":\"TEMPORARILY_UNAVAILABLE\",\"message\":\"busy\"}";
                } else {
                    answer = "{}";
                }
            }
            case "POST /api/2.0/mlflow/runs/update" -> answer = "{\"run_info\":{}}";
            default -> {
                if (ex.getRequestMethod().equals("PUT") && path.startsWith("/api/2.0/mlflow-artifacts/artifacts/")) {
                    answer = "{}";
                } else {
                    status = 404;
                    answer = "{\"error_code\":\"ENDPOINT_NOT_FOUND\",\"message\":\"no " + path + "\"}";
                }
            }
        }
        byte[] out = answer.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, out.length);
        ex.getResponseBody().write(out);
        ex.close();
    }

    private Path run(int steps) throws IOException {
        Path run = Files.createDirectories(dir.resolve("watch-20260101-000001"));
        Files.writeString(run.resolve("config.conf"), """
                experiment { name = watch-seed3, seed = 3, output-dir = runs }
                train { steps = 100, lr = 0.001, loss = [ { key = kd.forward-kl, weight = 1.0 } ] }
                method { key = kd, params {} }
                """);
        StringBuilder ev = new StringBuilder("{\"time\":\"2026-01-01T00:00:00Z\",\"type\":\"run-started\","
                + "\"stages\":[\"distill\"],\"method\":\"kd@test/1\"}\n");
        for (int s = 1; s <= steps; s++) {
            ev.append("{\"time\":\"2026-01-01T00:00:0").append(s % 10).append("Z\",\"type\":\"step\",\"stage\":\"distill\","
                    + "\"step\":").append(s).append(",\"loss\":").append(s == 2 ? "NaN" : 1.0 / s).append(",\"terms\":"
                    + "{\"0:kd.forward-kl\":").append(1.0 / s).append("}}\n");
        }
        ev.append("{\"time\":\"2026-01-01T00:01:00Z\",\"type\":\"run-finished\"}\n");
        Files.writeString(run.resolve("events.jsonl"), ev);
        Files.writeString(run.resolve("results.json"), "{}");
        Files.createDirectories(run.resolve("eval"));
        Files.writeString(run.resolve("eval/distill.json"), "{\"metrics\": {\"rouge-l\": 0.25}}");
        Files.createDirectories(run.resolve("stages/distill/checkpoints"));
        Files.writeString(run.resolve("stages/distill/checkpoints/big.bin"), "not an artifact");
        return run;
    }

    private MlflowExport.Options options(boolean artifacts) {
        return new MlflowExport.Options(URI.create("http://127.0.0.1:" + stub.getAddress().getPort()), null, artifacts,
                Map.of("MLFLOW_TRACKING_TOKEN", "tok"));
    }

    private List<Call> calls(String method, String path) {
        return calls.stream().filter(c -> c.method().equals(method) && c.path().equals(path)).toList();
    }

    @Test
    void logsParamsMetricsInBatchesArtifactsAndTheEnd() throws Exception {
        Path run = run(1200);
        MlflowExport.Result r = MlflowExport.export(run, options(true));
        assertEquals("7", r.experimentId());
        assertEquals("abc123", r.runId());

        Call lookup = calls("GET", "/api/2.0/mlflow/experiments/get-by-name").get(0);
        assertEquals("experiment_name=watch", lookup.query(), "the seed suffix is left out of the experiment");
        assertEquals("watch", calls("POST", "/api/2.0/mlflow/experiments/create").get(0).json().get("name").getAsString());
        JsonObject create = calls("POST", "/api/2.0/mlflow/runs/create").get(0).json();
        assertEquals("7", create.get("experiment_id").getAsString());
        assertEquals("watch-20260101-000001", create.get("run_name").getAsString());
        assertEquals(1767225600000L, create.get("start_time").getAsLong());
        assertTrue(create.getAsJsonArray("tags").toString().contains("\"distillery.seed\",\"value\":\"3\""));

        List<Call> batches = calls("POST", "/api/2.0/mlflow/runs/log-batch");
        int params = 0;
        List<JsonObject> metrics = new ArrayList<>();
        for (Call c : batches) {
            JsonObject b = c.json();
            assertEquals("abc123", b.get("run_id").getAsString());
            assertTrue(b.getAsJsonArray("params").size() <= 100);
            assertTrue(b.getAsJsonArray("metrics").size() + b.getAsJsonArray("params").size() <= 1000,
                    "MLflow's limit of 1000 entities per request");
            params += b.getAsJsonArray("params").size();
            b.getAsJsonArray("metrics").forEach(m -> metrics.add(m.getAsJsonObject()));
            assertEquals("Bearer tok", c.auth());
        }
        assertEquals(r.params(), params);
        assertEquals(2 * 1200 + 1, metrics.size(), "loss and term per step, and the evaluation");
        assertEquals(r.metrics(), metrics.size());
        assertEquals(1 + 3, batches.size(), "one params batch, 2401 metrics in three");
        JsonObject step2 = metrics.stream().filter(m -> m.get("key").getAsString().equals("distill/loss")
                && m.get("step").getAsLong() == 2).findFirst().orElseThrow();
        assertEquals("NaN", step2.get("value").getAsString(), "non-finite as protobuf's JSON writes it");
        assertTrue(metrics.stream().anyMatch(m -> m.get("key").getAsString().equals("distill/terms.0_kd.forward-kl")),
                "a colon is not allowed in metric keys");
        assertTrue(metrics.stream().anyMatch(m -> m.get("key").getAsString().equals("eval/distill/rouge-l")
                && m.get("value").getAsDouble() == 0.25));
        JsonArray paramsSent = batches.get(0).json().getAsJsonArray("params");
        boolean lr = false;
        boolean loss = false;
        for (JsonElement p : paramsSent) {
            String k = p.getAsJsonObject().get("key").getAsString();
            String v = p.getAsJsonObject().get("value").getAsString();
            lr |= k.equals("train.lr") && v.equals("0.001");
            loss |= k.equals("train.loss") && v.startsWith("[{") && v.contains("kd.forward-kl");
        }
        assertTrue(lr && loss, paramsSent.toString());

        List<String> puts = calls.stream().filter(c -> c.method().equals("PUT")).map(Call::path).sorted().toList();
        assertEquals(List.of("/api/2.0/mlflow-artifacts/artifacts/7/abc123/artifacts/config.conf",
                "/api/2.0/mlflow-artifacts/artifacts/7/abc123/artifacts/eval/distill.json",
                "/api/2.0/mlflow-artifacts/artifacts/7/abc123/artifacts/events.jsonl",
                "/api/2.0/mlflow-artifacts/artifacts/7/abc123/artifacts/results.json"), puts, "no checkpoints");
        JsonObject end = calls("POST", "/api/2.0/mlflow/runs/update").get(0).json();
        assertEquals("FINISHED", end.get("status").getAsString());
        assertEquals(1767225660000L, end.get("end_time").getAsLong());
        assertEquals(4, r.artifacts());
        assertEquals(calls.size(), r.requests());
    }

    @Test
    void anExistingExperimentIsReusedAndBusyAnswersAreRetried() throws Exception {
        experimentExists = true;
        failLogBatch = 1;
        MlflowExport.export(run(3), options(false));
        assertTrue(calls("POST", "/api/2.0/mlflow/experiments/create").isEmpty());
        assertEquals(1 + 1 + 1, calls("POST", "/api/2.0/mlflow/runs/log-batch").size(), "params, metrics, one retry");
        assertTrue(calls.stream().noneMatch(c -> c.method().equals("PUT")));
    }

    @Test
    void anArtifactStoreTheServerDoesNotServeIsReportedNotGuessed() throws Exception {
        artifactUri = "s3://bucket/7/abc123/artifacts";
        MlflowExport.Result r = MlflowExport.export(run(3), options(true));
        assertTrue(r.skippedArtifacts().contains("s3://bucket"), r.skippedArtifacts());
        assertEquals(0, r.artifacts());
    }

    @Test
    void aRefusalNamesTheCallAndTheServersMessage() throws Exception {
        stub.removeContext("/");
        stub.createContext("/", ex -> {
            byte[] out = "{\"error_code\":\"INVALID_PARAMETER_VALUE\",\"message\":\"bad key\"}"
                    .getBytes(StandardCharsets.UTF_8);
            ex.sendResponseHeaders(400, out.length);
            ex.getResponseBody().write(out);
            ex.close();
        });
        MlflowExport.MlflowException e = assertThrows(MlflowExport.MlflowException.class,
                () -> MlflowExport.export(run(3), options(true)));
        assertEquals("experiments/get-by-name failed: HTTP 400: INVALID_PARAMETER_VALUE: bad key", e.getMessage());
    }
}
