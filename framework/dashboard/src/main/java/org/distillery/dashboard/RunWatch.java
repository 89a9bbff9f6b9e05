package org.distillery.dashboard;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.Gson;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonWriter;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;
import com.typesafe.config.ConfigRenderOptions;

import org.distillery.charts.EventTail;
import org.distillery.charts.RunLog;
import org.distillery.kernel.run.RunStatus;
import org.distillery.eval.RunComparison;

/**
 * One run directory as the dashboard sees it: its {@code config.conf} (read once), its event log
 * followed by byte offset into a {@link RunLog}, and its status. {@link #refresh} reads what was
 * appended since the last call; a truncated or replaced log starts a new {@link #generation()}.
 * The log keeps only progress until someone asks for the run's curves, so a list of many long
 * runs costs little memory. All access to the log goes through this object's lock.
 */
final class RunWatch {

    /** For the small JSON bits the event stream writes around a delta. */
    static final Gson GSON = new Gson();

    private final String id;
    private final Path dir;
    private EventTail tail;
    private RunLog log = RunLog.progressOnly();
    private int generation;
    private Meta meta;

    /**
     * What {@code config.conf} says.
     *
     * @param experiment {@code experiment.name}
     * @param seed {@code experiment.seed}
     * @param method {@code method.key}
     * @param groupKey equal for runs whose configs differ only by seed ({@link SeedGroups})
     * @param groupName the experiment name without a seed suffix
     * @param config the parsed config, or null when it could not be read
     */
    record Meta(String experiment, long seed, String method, String groupKey, String groupName, Config config) {
    }

    RunWatch(String id, Path dir) {
        this.id = id;
        this.dir = dir;
        this.tail = new EventTail(dir.resolve("events.jsonl"));
    }

    String id() {
        return id;
    }

    Path dir() {
        return dir;
    }

    /** Reads the lines appended since the last refresh; returns whether anything changed. */
    synchronized boolean refresh() throws IOException {
        boolean changed = false;
        while (true) {
            EventTail.Batch b = tail.poll();
            if (b.reset()) {
                log.reset();
                generation++;
                changed = true;
            }
            if (b.lines().isEmpty()) {
                return changed;
            }
            for (EventTail.Line l : b.lines()) {
                log.accept(l.text(), l.end());
            }
            changed = true;
        }
    }

    /** Bumped each time the log had to be read again from its start. */
    synchronized int generation() {
        return generation;
    }

    synchronized long offset() {
        return log.offset();
    }

    /** Runs {@code body} with the log (keeping curves from now on), under this run's lock. */
    synchronized <T> T withCurves(java.util.function.Function<RunLog, T> body) throws IOException {
        keepCurves();
        return body.apply(log);
    }

    /** Switches to a log that keeps curve points: the file is read again from its start (same generation). */
    private void keepCurves() throws IOException {
        if (!log.keepsCurves()) {
            log = new RunLog();
            tail = new EventTail(tail.file());
            refresh();
        }
    }

    /** The downsampled curves as JSON, with the generation and offset they are valid for. */
    synchronized String curvesJson(int maxPoints) throws IOException {
        keepCurves();
        StringWriter out = new StringWriter();
        JsonWriter w = new JsonWriter(out);
        w.beginObject();
        w.name("run").value(id);
        w.name("generation").value(generation);
        w.name("curves").jsonValue(curves(maxPoints));
        w.endObject();
        w.flush();
        return out.toString();
    }

    private String curves(int maxPoints) throws IOException {
        StringWriter out = new StringWriter();
        log.writeCurves(new JsonWriter(out), maxPoints);
        return out.toString();
    }

    /** Everything after {@code offset} as JSON (every point), or null when nothing is new. */
    synchronized String deltaJson(long offset) throws IOException {
        keepCurves();
        if (log.offset() <= offset) {
            return null;
        }
        StringWriter out = new StringWriter();
        log.writeDelta(new JsonWriter(out), offset);
        return out.toString();
    }

    synchronized Meta meta() {
        if (meta == null) {
            meta = readMeta();
        }
        return meta;
    }

    private Meta readMeta() {
        Path conf = dir.resolve("config.conf");
        try {
            Config c = ConfigFactory.parseFile(conf.toFile(), ConfigParseOptions.defaults().setAllowMissing(false))
                    .resolve();
            String name = c.hasPath("experiment.name") ? c.getString("experiment.name") : "";
            if (name.isEmpty()) {
                name = dir.getFileName().toString().replaceFirst("-\\d{8}-\\d{6}(-\\d+)?$", "");
            }
            long seed = c.hasPath("experiment.seed") ? c.getLong("experiment.seed") : 0;
            String method = c.hasPath("method.key") ? c.getString("method.key") : "";
            String groupName = RunComparison.groupName(name, seed);
            return new Meta(name, seed, method, SeedGroups.key(c, groupName), groupName, c);
        } catch (ConfigException e) {
            String name = dir.getFileName().toString();
            return new Meta(name, 0, "", "unreadable:" + id, name, null);
        }
    }

    /** Status and progress for the runs list. */
    synchronized JsonObject summary(long nowMillis) {
        Meta m = meta();
        RunStatus.Status status = RunStatus.read(dir);
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("dir", dir.toString());
        o.addProperty("experiment", m.experiment());
        o.addProperty("group", m.groupKey());
        o.addProperty("groupName", m.groupName());
        o.addProperty("method", m.method());
        o.addProperty("seed", m.seed());
        o.addProperty("status", status.name());
        o.addProperty("statusLabel", status.label());
        o.addProperty("reason", status.reason());
        boolean running = status.state() == RunStatus.State.RUNNING;
        long started = log.startedMillis();
        if (started > 0) {
            o.addProperty("started", java.time.Instant.ofEpochMilli(started).toString());
            long end = running ? nowMillis : log.lastMillis();
            o.addProperty("durationSeconds", Math.max(0, end - started) / 1000.0);
        }
        com.google.gson.JsonArray stages = new com.google.gson.JsonArray();
        double eta = Double.NaN;
        for (RunLog.Stage s : log.stages()) {
            JsonObject st = new JsonObject();
            st.addProperty("name", s.name());
            String state = s.state();
            if (!running && state.equals("running")) {
                // the log says running but no process is: it failed or stopped there
                state = status.state() == RunStatus.State.FAILED ? "failed" : "stopped";
            }
            st.addProperty("state", state);
            st.addProperty("step", s.step());
            st.addProperty("of", s.of());
            if (running && state.equals("running")) {
                double e = s.etaSeconds();
                if (Double.isFinite(e)) {
                    st.addProperty("etaSeconds", e);
                    eta = e;
                }
            }
            stages.add(st);
        }
        o.add("stages", stages);
        if (Double.isFinite(eta)) {
            o.addProperty("etaSeconds", eta);
        }
        o.addProperty("hasEval", Files.isDirectory(dir.resolve("eval")));
        o.addProperty("hasReport", Files.isRegularFile(dir.resolve("report.html")));
        return o;
    }

    /** The run's config as sorted JSON, for the run page. */
    JsonElement configJson() {
        Config c = meta().config();
        if (c == null) {
            return new JsonObject();
        }
        return sorted(JsonParser.parseString(c.root().render(ConfigRenderOptions.concise())));
    }

    /** A JSON tree with object members in key order (a canonical form). */
    static JsonElement sorted(JsonElement e) {
        if (e.isJsonObject()) {
            Map<String, JsonElement> m = new TreeMap<>();
            e.getAsJsonObject().entrySet().forEach(x -> m.put(x.getKey(), sorted(x.getValue())));
            JsonObject o = new JsonObject();
            m.forEach(o::add);
            return o;
        }
        if (e.isJsonArray()) {
            com.google.gson.JsonArray a = new com.google.gson.JsonArray();
            e.getAsJsonArray().forEach(x -> a.add(sorted(x)));
            return a;
        }
        return e;
    }
}
