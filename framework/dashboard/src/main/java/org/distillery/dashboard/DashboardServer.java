package org.distillery.dashboard;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.stream.JsonWriter;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import org.distillery.charts.WebAssets;
import org.distillery.serve.ApiKey;
import org.distillery.eval.RunComparison;

/**
 * The dashboard's HTTP server on the JDK's {@code com.sun.net.httpserver}: a read-only web app
 * over run directories. Pages and scripts are served from the jar (uPlot from its WebJar) under a
 * strict Content-Security-Policy (scripts, styles and connections from this origin only, no
 * inline code, no framing). Only {@code GET} and {@code HEAD} are answered.
 *
 * <p>API ({@code <id>} is a run id from {@code /api/runs}, checked by {@link RunIndex#find}):
 * <ul>
 *   <li>{@code /api/runs}: every run's summary (status, stages with progress and ETA, start,
 *       duration) and the seed groups;</li>
 *   <li>{@code /api/runs/<id>}: one summary and the run's config;</li>
 *   <li>{@code /api/runs/<id>/curves?points=N}: all curves, each downsampled to about N points
 *       (default 2000), with the byte offset and generation they are valid for;</li>
 *   <li>{@code /api/runs/<id>/eval}, {@code /api/runs/<id>/predictions?model=&task=&sort=-rouge-l&offset=&limit=};</li>
 *   <li>{@code /api/compare?runs=a,b,...&points=N}: the runs' seed groups (mean curve, min, max,
 *       std per step) and the {@code distill compare} table of those runs;</li>
 *   <li>{@code /api/stream?runs=a,b&from=<cursor>}: server-sent events: {@code delta} (points
 *       appended to a run's log after the cursor), {@code reset} (a log was truncated or
 *       replaced: fetch the curves again), {@code runs} (summaries, when they change). Each
 *       delta's event id is the cursor ({@code id:generation:offset,...}); a reconnecting
 *       browser sends it back as {@code Last-Event-ID} and resumes where it left off.</li>
 * </ul>
 *
 * <p>Threads: ordinary requests run on a small fixed pool; each event stream gets a thread of
 * its own from a separate pool, at most {@code maxStreams} at once (more get 503), and returns
 * the request thread at once. A slow or stalled stream client therefore holds only its own
 * thread, and neither other streams nor page and API requests wait for it.
 *
 * <p>Access: bound to 127.0.0.1 unless told otherwise. Without an API key only loopback
 * binding is allowed, and requests must name a loopback {@code Host} (a page on another site
 * cannot read the dashboard through DNS rebinding). With an API key every request must present
 * it, as {@code Authorization: Bearer <key>} or as the password of HTTP Basic authentication
 * (which browsers ask for).
 */
public final class DashboardServer implements AutoCloseable {

    /**
     * How the server runs.
     *
     * @param host address to bind
     * @param port TCP port, 0 for a free one
     * @param apiKey the key requests must present, or null (loopback only)
     * @param runsDirs folders of run directories, or run directories
     * @param maxStreams event streams served at once
     * @param pollMillis how often streams look for new lines
     */
    public record Options(String host, int port, String apiKey, List<Path> runsDirs, int maxStreams, long pollMillis) {

        /** Checks the options: a non-loopback host needs an API key. */
        public Options {
            if (port < 0 || port > 65535) {
                throw new IllegalArgumentException("--port: must be 0..65535, got " + port);
            }
            if (apiKey != null && apiKey.isEmpty()) {
                throw new IllegalArgumentException("the API key must not be empty");
            }
            if (apiKey == null && !isLoopback(host)) {
                throw new IllegalArgumentException("--host " + host + " is reachable from other machines: "
                        + "give an API key with --api-key-env (or bind 127.0.0.1)");
            }
            if (maxStreams < 1 || pollMillis < 10) {
                throw new IllegalArgumentException("maxStreams >= 1 and pollMillis >= 10");
            }
            runsDirs = List.copyOf(runsDirs);
        }

        /** Loopback on {@code port}, no key, 32 streams, 500 ms polling. */
        public static Options local(int port, List<Path> runsDirs) {
            return new Options("127.0.0.1", port, null, runsDirs, 32, 500);
        }
    }

    static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();
    private static final int DEFAULT_POINTS = 2000;
    private static final Map<String, String[]> STATIC = Map.of(
            WebAssets.UPLOT_JS, new String[] {"charts", "text/javascript"},
            WebAssets.UPLOT_CSS, new String[] {"charts", "text/css"},
            WebAssets.CHARTS_JS, new String[] {"charts", "text/javascript"},
            WebAssets.CHARTS_CSS, new String[] {"charts", "text/css"},
            "dashboard.js", new String[] {"own", "text/javascript"},
            "dashboard.css", new String[] {"own", "text/css"},
            "index.html", new String[] {"own", "text/html"});

    private final Options options;
    private final HttpServer http;
    private final ExecutorService requests;
    private final ExecutorService streamThreads;
    private final Semaphore streamSlots;
    private final RunIndex index;
    private final ApiKey key;
    private final Set<String> allowedHosts;
    private volatile boolean closed;

    private DashboardServer(Options options) throws IOException {
        this.options = options;
        this.index = new RunIndex(options.runsDirs());
        this.key = options.apiKey() == null ? null : ApiKey.of(options.apiKey());
        this.requests = Executors.newFixedThreadPool(4, daemon("distill-dashboard-http-"));
        this.streamThreads = Executors.newCachedThreadPool(daemon("distill-dashboard-stream-"));
        this.streamSlots = new Semaphore(options.maxStreams());
        try {
            this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 64);
        } catch (IOException e) {
            requests.shutdownNow();
            streamThreads.shutdownNow();
            throw new IOException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage(), e);
        }
        int port = http.getAddress().getPort();
        this.allowedHosts = Set.copyOf(List.of("127.0.0.1:" + port, "localhost:" + port, "[::1]:" + port,
                hostForUrl(options.host()).toLowerCase(Locale.ROOT) + ":" + port));
        http.setExecutor(requests);
        http.createContext("/", this::handle);
        http.start();
    }

    /** Starts serving. */
    public static DashboardServer start(Options options) throws IOException {
        return new DashboardServer(options);
    }

    /** The port it listens on. */
    public int port() {
        return http.getAddress().getPort();
    }

    /** {@code http://host:port/}. */
    public String url() {
        return "http://" + hostForUrl(options.host()) + ":" + port() + "/";
    }

    /** Event streams open right now. */
    public int openStreams() {
        return options.maxStreams() - streamSlots.availablePermits();
    }

    @Override
    public void close() {
        closed = true;
        http.stop(0);
        requests.shutdownNow();
        streamThreads.shutdownNow();
    }

    static boolean isLoopback(String host) {
        try {
            return InetAddress.getByName(host).isLoopbackAddress();
        } catch (UnknownHostException e) {
            return false;
        }
    }

    private static String hostForUrl(String host) {
        return host.contains(":") ? "[" + host + "]" : host;
    }

    private static ThreadFactory daemon(String prefix) {
        AtomicInteger n = new AtomicInteger();
        return r -> {
            Thread t = new Thread(r, prefix + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        };
    }

    /** A refusal with an HTTP status. */
    static final class HttpError extends RuntimeException {
        final int status;

        HttpError(int status, String message) {
            super(message);
            this.status = status;
        }
    }

    private void handle(HttpExchange ex) throws IOException {
        boolean streaming = false;
        try {
            securityHeaders(ex);
            String method = ex.getRequestMethod();
            if (!method.equals("GET") && !method.equals("HEAD")) {
                ex.getResponseHeaders().set("Allow", "GET, HEAD");
                throw new HttpError(405, "the dashboard is read-only: " + method + " is not allowed");
            }
            authorize(ex);
            List<String> path = segments(ex.getRequestURI().getRawPath());
            Map<String, String> query = query(ex.getRequestURI().getRawQuery());
            if (path.isEmpty()) {
                asset(ex, "index.html");
            } else if (path.get(0).equals("static") && path.size() == 2) {
                asset(ex, path.get(1));
            } else if (path.get(0).equals("api")) {
                streaming = api(ex, path.subList(1, path.size()), query);
            } else {
                throw new HttpError(404, "no such page");
            }
        } catch (HttpError e) {
            error(ex, e.status, e.getMessage());
        } catch (IOException | RuntimeException e) {
            if (ex.getResponseCode() == -1) {
                error(ex, 500, "internal error: " + e);
            }
        } finally {
            if (!streaming) {
                ex.close();
            }
        }
    }

    private static void securityHeaders(HttpExchange ex) {
        var h = ex.getResponseHeaders();
        h.set("Content-Security-Policy", CSP);
        h.set("X-Content-Type-Options", "nosniff");
        h.set("Referrer-Policy", "no-referrer");
        h.set("X-Frame-Options", "DENY");
        h.set("Cache-Control", "no-store");
    }

    private void authorize(HttpExchange ex) {
        if (key == null) {
            String host = ex.getRequestHeaders().getFirst("Host");
            if (host == null || !allowedHosts.contains(host.toLowerCase(Locale.ROOT))) {
                throw new HttpError(403, "Host '" + host + "' is not this dashboard's loopback address");
            }
            return;
        }
        String h = ex.getRequestHeaders().getFirst("Authorization");
        String presented = null;
        if (h != null && h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            presented = h.substring(7).trim();
        } else if (h != null && h.regionMatches(true, 0, "Basic ", 0, 6)) {
            try {
                String userPass = new String(Base64.getDecoder().decode(h.substring(6).trim()), StandardCharsets.UTF_8);
                presented = userPass.substring(userPass.indexOf(':') + 1);
            } catch (IllegalArgumentException e) {
                presented = null;
            }
        }
        if (!key.matches(presented)) {
            ex.getResponseHeaders().set("WWW-Authenticate", "Basic realm=\"distill dashboard\", charset=\"UTF-8\"");
            throw new HttpError(401, presented == null ? "API key required (Authorization: Bearer <key>, or the "
                    + "password of Basic authentication)" : "incorrect API key");
        }
    }

    /** Path segments, percent-decoded; empty segments dropped. */
    static List<String> segments(String rawPath) {
        List<String> out = new ArrayList<>();
        if (rawPath == null) {
            return out;
        }
        for (String s : rawPath.split("/")) {
            if (!s.isEmpty()) {
                out.add(URLDecoder.decode(s.replace("+", "%2B"), StandardCharsets.UTF_8));
            }
        }
        return out;
    }

    static Map<String, String> query(String raw) {
        Map<String, String> out = new LinkedHashMap<>();
        if (raw == null || raw.isEmpty()) {
            return out;
        }
        for (String kv : raw.split("&")) {
            int eq = kv.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8);
            out.putIfAbsent(k, v);
        }
        return out;
    }

    private void asset(HttpExchange ex, String name) throws IOException {
        String[] where = STATIC.get(name);
        if (where == null) {
            throw new HttpError(404, "no such file");
        }
        byte[] body;
        if (where[0].equals("charts")) {
            body = WebAssets.bytes(name);
        } else {
            try (InputStream in = DashboardServer.class.getResourceAsStream("web/" + name)) {
                if (in == null) {
                    throw new HttpError(500, "missing from the jar: " + name);
                }
                body = in.readAllBytes();
            }
        }
        send(ex, 200, where[1] + "; charset=utf-8", body);
    }

    private boolean api(HttpExchange ex, List<String> path, Map<String, String> q) throws IOException {
        if (path.size() == 1 && path.get(0).equals("runs")) {
            json(ex, runsJson());
            return false;
        }
        if (path.size() >= 2 && path.get(0).equals("runs")) {
            RunWatch run = run(path.get(1));
            String what = path.size() == 2 ? "" : path.get(2);
            if (path.size() > 3) {
                throw new HttpError(404, "no such resource");
            }
            switch (what) {
                case "" -> {
                    run.refresh();
                    JsonObject o = run.summary(System.currentTimeMillis());
                    o.add("config", run.configJson());
                    json(ex, GSON.toJson(o));
                }
                case "curves" -> {
                    run.refresh();
                    json(ex, run.curvesJson(intParam(q, "points", DEFAULT_POINTS, 10, 100_000)));
                }
                case "eval" -> json(ex, GSON.toJson(EvalBrowser.summary(run.dir())));
                case "predictions" -> {
                    EvalBrowser.Page page = EvalBrowser.predictions(run.dir(), run.meta().config(), q.get("model"),
                            q.get("task"), EvalBrowser.sort(q.get("sort")), intParam(q, "offset", 0, 0, Integer.MAX_VALUE),
                            intParam(q, "limit", 100, 1, 10_000)).orElseThrow(() -> new HttpError(404,
                            "no evaluated model '" + q.get("model") + "' in run " + run.id()));
                    json(ex, GSON.toJson(page));
                }
                default -> throw new HttpError(404, "no such resource: " + what);
            }
            return false;
        }
        if (path.size() == 1 && path.get(0).equals("compare")) {
            json(ex, compareJson(runList(q.get("runs")), intParam(q, "points", 1000, 10, 100_000)));
            return false;
        }
        if (path.size() == 1 && path.get(0).equals("stream")) {
            return stream(ex, q);
        }
        throw new HttpError(404, "no such resource");
    }

    private RunWatch run(String id) throws IOException {
        Optional<RunWatch> r = index.find(id);
        if (r.isEmpty()) {
            throw new HttpError(404, "no run '" + id + "' (ids are the names listed by /api/runs)");
        }
        return r.get();
    }

    private List<RunWatch> runList(String ids) throws IOException {
        List<RunWatch> out = new ArrayList<>();
        if (ids == null || ids.isBlank()) {
            return out;
        }
        for (String id : ids.split(",")) {
            if (!id.isBlank()) {
                RunWatch r = run(id.trim());
                if (!out.contains(r)) {
                    out.add(r);
                }
            }
        }
        return out;
    }

    private static int intParam(Map<String, String> q, String name, int dflt, int min, int max) {
        String v = q.get(name);
        if (v == null || v.isEmpty()) {
            return dflt;
        }
        try {
            int i = Integer.parseInt(v);
            if (i < min || i > max) {
                throw new HttpError(400, name + ": must be " + min + ".." + max + ", got " + v);
            }
            return i;
        } catch (NumberFormatException e) {
            throw new HttpError(400, name + ": not a whole number: " + v);
        }
    }

    String runsJson() throws IOException {
        long now = System.currentTimeMillis();
        JsonArray runs = new JsonArray();
        Map<String, List<RunWatch>> groups = new LinkedHashMap<>();
        for (RunWatch r : index.runs()) {
            r.refresh();
            runs.add(r.summary(now));
            groups.computeIfAbsent(r.meta().groupKey(), k -> new ArrayList<>()).add(r);
        }
        JsonArray g = new JsonArray();
        for (Map.Entry<String, List<RunWatch>> e : groups.entrySet()) {
            JsonObject o = new JsonObject();
            o.addProperty("key", e.getKey());
            o.addProperty("name", e.getValue().get(0).meta().groupName());
            JsonArray ids = new JsonArray();
            JsonArray seeds = new JsonArray();
            e.getValue().forEach(r -> {
                ids.add(r.id());
                seeds.add(r.meta().seed());
            });
            o.add("runs", ids);
            o.add("seeds", seeds);
            g.add(o);
        }
        JsonObject o = new JsonObject();
        JsonArray roots = new JsonArray();
        index.roots().forEach(p -> roots.add(p.toString()));
        o.add("roots", roots);
        o.add("runs", runs);
        o.add("groups", g);
        return GSON.toJson(o);
    }

    String compareJson(List<RunWatch> runs, int points) throws IOException {
        if (runs.isEmpty()) {
            throw new HttpError(400, "runs: give the run ids to compare, e.g. ?runs=a,b");
        }
        Map<String, List<RunWatch>> groups = new LinkedHashMap<>();
        for (RunWatch r : runs) {
            groups.computeIfAbsent(r.meta().groupKey(), k -> new ArrayList<>()).add(r);
        }
        Map<String, Integer> sameName = new LinkedHashMap<>();
        groups.values().forEach(l -> sameName.merge(l.get(0).meta().groupName(), 1, Integer::sum));
        StringWriter out = new StringWriter();
        JsonWriter w = new JsonWriter(out);
        w.beginObject();
        w.name("groups").beginArray();
        for (Map.Entry<String, List<RunWatch>> e : groups.entrySet()) {
            List<RunWatch> members = e.getValue();
            String name = members.get(0).meta().groupName();
            List<Long> seeds = members.stream().map(r -> r.meta().seed()).sorted().toList();
            String label = name + (sameName.get(name) > 1 ? " [" + e.getKey().substring(0, 6) + "]" : "")
                    + (seeds.size() > 1 ? " (seeds " : " (seed ")
                    + String.join(", ", seeds.stream().map(String::valueOf).toList()) + ")";
            w.beginObject();
            w.name("key").value(e.getKey());
            w.name("label").value(label);
            w.name("runs").beginArray();
            for (RunWatch r : members) {
                w.value(r.id());
            }
            w.endArray();
            w.name("series");
            SeedGroups.write(w, SeedGroups.aggregate(members), points);
            w.name("markers");
            SeedGroups.writeMarkers(w, members);
            w.endObject();
        }
        w.endArray();
        w.name("table").jsonValue(tableJson(runs));
        w.endObject();
        w.flush();
        return out.toString();
    }

    /** The {@code distill compare} table of the runs (rows experiment/model, cells mean ± std (n)). */
    private static String tableJson(List<RunWatch> runs) throws IOException {
        List<RunComparison.RunRecord> records = new ArrayList<>();
        for (RunWatch r : runs) {
            records.add(RunComparison.read(r.dir()));
        }
        RunComparison.Table t = RunComparison.compare(records, List.of());
        JsonObject o = new JsonObject();
        JsonArray cols = new JsonArray();
        t.columns().forEach(cols::add);
        o.add("columns", cols);
        JsonArray rows = new JsonArray();
        for (String label : t.rows()) {
            JsonObject row = new JsonObject();
            row.addProperty("label", label);
            JsonArray seeds = new JsonArray();
            t.seeds().getOrDefault(label, List.of()).forEach(seeds::add);
            row.add("seeds", seeds);
            JsonObject cells = new JsonObject();
            for (String c : t.columns()) {
                RunComparison.Cell cell = t.cells().getOrDefault(label, Map.of()).get(c);
                if (cell != null) {
                    cells.addProperty(c, RunComparison.format(cell));
                }
            }
            row.add("cells", cells);
            rows.add(row);
        }
        o.add("rows", rows);
        o.addProperty("text", t.rows().isEmpty() ? "" : RunComparison.render(t));
        return GSON.toJson(o);
    }

    private boolean stream(HttpExchange ex, Map<String, String> q) throws IOException {
        List<RunWatch> runs = runList(q.get("runs"));
        String cursor = ex.getRequestHeaders().getFirst("Last-Event-ID");
        if (cursor == null || cursor.isBlank()) {
            cursor = q.get("from");
        }
        Map<String, long[]> positions = EventStream.parseCursor(cursor);
        if (!streamSlots.tryAcquire()) {
            ex.getResponseHeaders().set("Retry-After", "5");
            throw new HttpError(503, "too many open event streams (" + options.maxStreams() + "); close a tab");
        }
        try {
            ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
            ex.getResponseHeaders().set("X-Accel-Buffering", "no");
            ex.sendResponseHeaders(200, 0);
            EventStream s = new EventStream(this, ex, runs, positions, options.pollMillis());
            streamThreads.execute(() -> {
                try {
                    s.run();
                } finally {
                    streamSlots.release();
                    ex.close();
                }
            });
            return true;
        } catch (RuntimeException | IOException e) {
            streamSlots.release();
            throw e;
        }
    }

    boolean closed() {
        return closed;
    }

    RunIndex index() {
        return index;
    }

    private static void json(HttpExchange ex, String body) throws IOException {
        send(ex, 200, "application/json; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
    }

    private static void error(HttpExchange ex, int status, String message) throws IOException {
        JsonObject o = new JsonObject();
        o.addProperty("error", message);
        o.addProperty("status", status);
        send(ex, status, "application/json; charset=utf-8", GSON.toJson(o).getBytes(StandardCharsets.UTF_8));
    }

    private static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        ex.getResponseHeaders().set("Content-Type", type);
        boolean head = ex.getRequestMethod().equals("HEAD");
        ex.sendResponseHeaders(status, head ? -1 : body.length == 0 ? -1 : body.length);
        if (!head && body.length > 0) {
            try (OutputStream out = ex.getResponseBody()) {
                out.write(body);
            }
        }
    }
}
