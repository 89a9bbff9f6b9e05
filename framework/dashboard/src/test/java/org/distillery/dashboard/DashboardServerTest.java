package org.distillery.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DashboardServerTest {

    @TempDir
    Path root;

    Path runs;
    Path seed1;
    Path seed2;
    DashboardServer server;

    @BeforeEach
    void runsAndServer() throws IOException {
        runs = Files.createDirectories(root.resolve("runs"));
        seed1 = TestRuns.finished(runs, "watch-20260101-000001", 1, 30, 0.001);
        seed2 = TestRuns.finished(runs, "watch-20260101-000002", 2, 30, 0.001);
        TestRuns.finished(runs, "watch-20260101-000003", 1, 30, 0.002); // another lr: another group
        Files.writeString(root.resolve("secret.txt"), "top secret");
        server = DashboardServer.start(new DashboardServer.Options("127.0.0.1", 0, null, List.of(runs), 4, 50));
    }

    @AfterEach
    void stop() {
        server.close();
    }

    private JsonObject json(String path) throws IOException {
        Http.Response r = Http.get(server.port(), path);
        assertEquals(200, r.status(), path + ": " + r.body());
        return JsonParser.parseString(r.body()).getAsJsonObject();
    }

    @Test
    void listsRunsWithStatusProgressAndSeedGroups() throws IOException {
        JsonObject o = json("/api/runs");
        JsonArray list = o.getAsJsonArray("runs");
        assertEquals(3, list.size());
        JsonObject first = list.get(0).getAsJsonObject();
        assertEquals("watch-20260101-000001", first.get("id").getAsString());
        assertEquals("finished", first.get("status").getAsString());
        assertEquals(1, first.get("seed").getAsLong());
        JsonObject stage = first.getAsJsonArray("stages").get(0).getAsJsonObject();
        assertEquals("distill", stage.get("name").getAsString());
        assertEquals("done", stage.get("state").getAsString());
        assertEquals(30, stage.get("step").getAsInt());
        assertEquals(31, first.get("durationSeconds").getAsDouble(), 1e-9);
        JsonArray groups = o.getAsJsonArray("groups");
        assertEquals(2, groups.size(), "seeds 1 and 2 with one lr, seed 1 with another");
        assertEquals("[\"watch-20260101-000001\",\"watch-20260101-000002\"]", groups.get(0).getAsJsonObject()
                .getAsJsonArray("runs").toString());
    }

    @Test
    void refusesPathTraversalAndUnknownNames() throws IOException {
        String id = seed1.getFileName().toString();
        for (String p : List.of("/api/runs/..", "/api/runs/..%2F..%2Fsecret.txt", "/api/runs/%2e%2e/curves",
                "/api/runs/..%2f%2e%2e%2fsecret.txt/curves", "/api/runs/a%2Fb", "/api/runs/%2Fetc%2Fpasswd",
                "/api/runs/" + "x".repeat(300), "/api/runs/.hidden", "/static/..%2F..%2Fsecret.txt", "/static/%2e%2e",
                "/static/dashboard.js%00.png", "/../secret.txt", "/api/runs/" + id + "/..%2F..%2Fsecret.txt",
                "/api/runs/" + id + "/predictions?model=..%2F..%2F..%2Fsecret",
                "/api/runs/" + id + "/predictions?model=%2Fetc%2Fpasswd",
                "/api/compare?runs=..%2F..%2Fsecret.txt", "/api/stream?runs=..")) {
            Http.Response r = Http.get(server.port(), p);
            assertTrue(r.status() == 404 || r.status() == 400, p + " -> " + r.status());
            assertFalse(r.body().contains("top secret"), p);
        }
        assertTrue(server.index().find("..").isEmpty());
        assertTrue(server.index().find("../runs").isEmpty());
        assertTrue(server.index().find(id).isPresent());
    }

    @Test
    void loopbackOnlyWithoutAKeyAndReadOnly() throws IOException {
        assertEquals(403, Http.get(server.port(), "/api/runs", "Host: attacker.example:" + server.port()).status(),
                "a page on another site reaching us through DNS rebinding names its own host");
        assertEquals(200, Http.get(server.port(), "/api/runs", "Host: localhost:" + server.port()).status());
        Http.Response post = Http.request(server.port(), "POST", "/api/runs");
        assertEquals(405, post.status());
        assertEquals("GET, HEAD", post.headers().get("allow"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () ->
                new DashboardServer.Options("0.0.0.0", 0, null, List.of(runs), 4, 50));
        assertTrue(e.getMessage().contains("--api-key-env"), e.getMessage());
    }

    @Test
    void pagesCarryAStrictContentSecurityPolicy() throws IOException {
        Http.Response page = Http.get(server.port(), "/");
        assertEquals(200, page.status());
        String csp = page.headers().get("content-security-policy");
        assertNotNull(csp);
        assertTrue(csp.startsWith("default-src 'none'") && csp.contains("script-src 'self'") && !csp.contains("unsafe"));
        assertEquals("nosniff", page.headers().get("x-content-type-options"));
        assertFalse(page.body().contains("<script>"), "no inline script");
        assertFalse(page.body().contains("style=\""), "no inline style");
        assertFalse(page.body().contains("http://") || page.body().contains("https://"), "nothing from a CDN");
        Http.Response uplot = Http.get(server.port(), "/static/uPlot.iife.min.js");
        assertEquals(200, uplot.status());
        assertTrue(uplot.body().contains("uPlot"));
        assertTrue(uplot.headers().get("content-type").startsWith("text/javascript"));
    }

    @Test
    void anApiKeyIsRequiredWhenGiven() throws IOException {
        try (DashboardServer keyed = DashboardServer.start(new DashboardServer.Options("127.0.0.1", 0, "s3cret",
                List.of(runs), 4, 50))) {
            Http.Response none = Http.get(keyed.port(), "/api/runs");
            assertEquals(401, none.status());
            assertTrue(none.headers().get("www-authenticate").startsWith("Basic"));
            assertEquals(401, Http.get(keyed.port(), "/api/runs", "Authorization: Bearer wrong").status());
            assertEquals(200, Http.get(keyed.port(), "/api/runs", "Authorization: Bearer s3cret").status());
            String basic = Base64.getEncoder().encodeToString("me:s3cret".getBytes(StandardCharsets.UTF_8));
            assertEquals(200, Http.get(keyed.port(), "/", "Authorization: Basic " + basic).status());
        }
    }

    @Test
    void curvesAreDownsampledOnRequest() throws IOException {
        Path big = Files.createDirectories(runs.resolve("big-20260101-000009"));
        Files.writeString(big.resolve("config.conf"), "experiment { name = big, seed = 1 }\n");
        StringBuilder sb = new StringBuilder();
        for (String l : TestRuns.steps(1, 1, 20_000, 20_000, Instant.parse("2026-01-01T00:00:00Z"))) {
            sb.append(l).append('\n');
        }
        Files.writeString(big.resolve("events.jsonl"), sb.toString());
        JsonObject c = json("/api/runs/big-20260101-000009/curves?points=500").getAsJsonObject("curves");
        for (JsonElement e : c.getAsJsonArray("series")) {
            JsonObject s = e.getAsJsonObject();
            if (s.get("metric").getAsString().equals("loss")) {
                assertEquals(20_000, s.get("n").getAsInt());
                assertTrue(s.getAsJsonArray("x").size() <= 500, s.getAsJsonArray("x").size() + " points");
            }
        }
        assertEquals(Files.size(big.resolve("events.jsonl")), c.get("offset").getAsLong());
    }

    @Test
    void compareAggregatesSeedsAndShowsTheCompareTable() throws IOException {
        JsonObject o = json("/api/compare?runs=watch-20260101-000001,watch-20260101-000002,watch-20260101-000003");
        JsonArray groups = o.getAsJsonArray("groups");
        assertEquals(2, groups.size());
        JsonObject g = groups.get(0).getAsJsonObject();
        assertEquals("watch (seeds 1, 2)", g.get("label").getAsString().replaceAll(" \\[.*\\]", ""));
        JsonObject loss = null;
        for (JsonElement e : g.getAsJsonArray("series")) {
            if (e.getAsJsonObject().get("metric").getAsString().equals("loss")) {
                loss = e.getAsJsonObject();
            }
        }
        assertNotNull(loss);
        double l1 = TestRuns.loss(1, 1);
        double l2 = TestRuns.loss(2, 1);
        assertEquals((l1 + l2) / 2, loss.getAsJsonArray("mean").get(0).getAsDouble(), 1e-6);
        assertEquals(l1, loss.getAsJsonArray("min").get(0).getAsDouble(), 1e-6);
        assertEquals(l2, loss.getAsJsonArray("max").get(0).getAsDouble(), 1e-6);
        assertEquals(Math.abs(l2 - l1) / Math.sqrt(2), loss.getAsJsonArray("std").get(0).getAsDouble(), 1e-6);
        assertEquals(2, loss.getAsJsonArray("n").get(0).getAsInt());
        assertEquals(6, g.getAsJsonArray("markers").size(), "3 checkpoints per seed");
        JsonObject table = o.getAsJsonObject("table");
        Map<String, String> rows = new TreeMap<>();
        for (JsonElement r : table.getAsJsonArray("rows")) {
            rows.put(r.getAsJsonObject().get("label").getAsString(), r.getAsJsonObject().getAsJsonObject("cells")
                    .get("rouge-l").getAsString());
        }
        // distill compare groups by name minus seed: all three runs are "watch"
        assertEquals("0.1333 ± 0.0577 (3)", rows.get("watch/distill"));
        assertTrue(table.get("text").getAsString().contains("watch/distill"));
    }

    @Test
    void predictionsFilterByTaskAndSortByRougeL() throws IOException {
        String id = seed1.getFileName().toString();
        JsonObject all = json("/api/runs/" + id + "/predictions?model=distill");
        assertEquals(5, all.get("total").getAsInt());
        assertEquals("[\"arith\",\"describe\",\"string\",\"yesno\"]", all.getAsJsonArray("tasks").toString());
        JsonObject yesno = json("/api/runs/" + id + "/predictions?model=distill&task=yesno");
        assertEquals(2, yesno.get("total").getAsInt());
        for (JsonElement r : yesno.getAsJsonArray("rows")) {
            assertEquals("yesno", r.getAsJsonObject().get("task").getAsString());
        }
        JsonArray best = json("/api/runs/" + id + "/predictions?model=distill&sort=-rouge-l").getAsJsonArray("rows");
        List<Double> scores = new ArrayList<>();
        best.forEach(r -> scores.add(r.getAsJsonObject().get("rougeL").getAsDouble()));
        for (int i = 1; i < scores.size(); i++) {
            assertTrue(scores.get(i) <= scores.get(i - 1), scores.toString());
        }
        assertEquals(1.0, scores.get(0));
        assertEquals(0.0, scores.get(scores.size() - 1));
        assertEquals(404, Http.get(server.port(), "/api/runs/" + id + "/predictions?model=nope").status());
        JsonObject eval = json("/api/runs/" + id + "/eval");
        assertEquals("distill", eval.getAsJsonArray("models").get(0).getAsJsonObject().get("name").getAsString());
    }

    /** A server-sent-event stream read on a socket. */
    static final class Stream implements AutoCloseable {
        final Socket socket;
        final BufferedReader in;

        Stream(int port, String path, String... headers) throws IOException {
            socket = new Socket("127.0.0.1", port);
            socket.setSoTimeout(20_000);
            StringBuilder req = new StringBuilder("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + port + "\r\n");
            for (String h : headers) {
                req.append(h).append("\r\n");
            }
            OutputStream out = socket.getOutputStream();
            out.write(req.append("\r\n").toString().getBytes(StandardCharsets.UTF_8));
            out.flush();
            in = new BufferedReader(new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
        }

        /** The next event of a type: {id, data}; chunk-size lines of the transfer encoding are skipped. */
        String[] next(String type) throws IOException {
            String id = null;
            String event = null;
            for (String line; (line = in.readLine()) != null; ) {
                if (line.startsWith("id: ")) {
                    id = line.substring(4);
                } else if (line.startsWith("event: ")) {
                    event = line.substring(7);
                } else if (line.startsWith("data: ")) {
                    if (type.equals(event)) {
                        return new String[] {id, line.substring(6)};
                    }
                    id = null;
                    event = null;
                }
            }
            throw new IOException("stream ended before a " + type + " event");
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    private static List<Integer> steps(String deltaData) {
        JsonObject d = JsonParser.parseString(deltaData).getAsJsonObject().getAsJsonObject("delta");
        for (JsonElement s : d.getAsJsonArray("series")) {
            if (s.getAsJsonObject().get("metric").getAsString().equals("loss")) {
                List<Integer> out = new ArrayList<>();
                s.getAsJsonObject().getAsJsonArray("x").forEach(x -> out.add(x.getAsInt()));
                return out;
            }
        }
        return List.of();
    }

    @Test
    void streamsAppendedLinesAndResumesFromTheLastEventId() throws Exception {
        Path live = Files.createDirectories(runs.resolve("live-20260101-000004"));
        Files.writeString(live.resolve("config.conf"), "experiment { name = live, seed = 4 }\n");
        Path events = live.resolve("events.jsonl");
        Instant t0 = Instant.parse("2026-01-01T00:00:00Z");
        Files.writeString(events, TestRuns.event(t0, "run-started", "\"stages\":[\"distill\"]") + "\n"
                + TestRuns.event(t0, "stage-started", "\"stage\":\"distill\"") + "\n"
                + String.join("\n", TestRuns.steps(4, 1, 5, 100, t0)) + "\n");
        String id = "live-20260101-000004";
        JsonObject curves = json("/api/runs/" + id + "/curves");
        String cursor = id + ":" + curves.get("generation").getAsInt() + ":" + curves.getAsJsonObject("curves")
                .get("offset").getAsLong();
        String lastId;
        try (Stream s = new Stream(server.port(), "/api/stream?runs=" + id + "&from=" + cursor)) {
            List<String> more = TestRuns.steps(4, 6, 8, 100, t0);
            // a complete line, then one cut in the middle: only complete lines are sent
            TestRuns.append(events, String.join("\n", more.subList(0, 2)) + "\n" + more.get(2).substring(0, 40));
            String[] first = s.next("delta");
            assertEquals(List.of(6, 7), steps(first[1]));
            TestRuns.append(events, more.get(2).substring(40) + "\n");
            String[] second = s.next("delta");
            assertEquals(List.of(8), steps(second[1]));
            lastId = first[0];
        }
        // the browser lost the stream after the first delta; it reconnects with that event's id
        TestRuns.append(events, String.join("\n", TestRuns.steps(4, 9, 9, 100, t0)) + "\n");
        try (Stream s = new Stream(server.port(), "/api/stream?runs=" + id, "Last-Event-ID: " + lastId)) {
            assertEquals(List.of(8, 9), steps(s.next("delta")[1]), "exactly what it missed");
            // the log is rewritten from scratch (truncated): the stream says reset
            Files.writeString(events, TestRuns.event(t0, "run-started", "") + "\n");
            String[] reset = s.next("reset");
            assertTrue(reset[1].contains(id));
        }
    }

    @Test
    void stalledStreamsBlockNeitherOtherStreamsNorRequests() throws Exception {
        String id = seed1.getFileName().toString();
        List<Socket> stalled = new ArrayList<>();
        try {
            // as many streams as the server allows (4 here, as many as its request threads), none ever read
            for (int i = 0; i < 4; i++) {
                Socket sock = new Socket("127.0.0.1", server.port());
                sock.getOutputStream().write(("GET /api/stream?runs=" + id + " HTTP/1.1\r\nHost: 127.0.0.1:"
                        + server.port() + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
                stalled.add(sock);
            }
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (server.openStreams() < 4 && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(4, server.openStreams());
            // megabytes of new lines: the stalled streams' sockets fill up and their threads block writing
            Path events = seed1.resolve("events.jsonl");
            TestRuns.append(events, String.join("\n", TestRuns.steps(1, 31, 20_030, 20_030,
                    Instant.parse("2026-01-01T00:00:00Z"))) + "\n");
            Thread.sleep(500);
            assertEquals(200, Http.get(server.port(), "/api/runs").status(), "requests are still served");
            assertEquals(200, Http.get(server.port(), "/api/runs/" + id + "/curves?points=100").status());
            Http.Response fifth = Http.get(server.port(), "/api/stream?runs=" + id);
            assertEquals(503, fifth.status(), "more streams than allowed are refused, not queued");
            assertEquals("5", fifth.headers().get("retry-after"));
        } finally {
            for (Socket s : stalled) {
                s.close();
            }
        }
    }
}
