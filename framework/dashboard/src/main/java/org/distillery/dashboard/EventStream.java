package org.distillery.dashboard;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonArray;
import com.sun.net.httpserver.HttpExchange;

/**
 * One server-sent-event stream on its own thread: every poll interval it reads what the watched
 * runs appended and sends it as {@code delta} events, sends {@code reset} when a run's log was
 * truncated or replaced, and {@code runs} with the summaries when they change (all runs when
 * none is watched). A comment line every 5 s keeps proxies from closing an idle stream and
 * finds out when the browser has gone.
 *
 * <p>The cursor ({@code id:generation:offset} per run, comma-separated) is each delta's event
 * id, so a browser that reconnects sends the last one back as {@code Last-Event-ID} and gets
 * exactly what it missed.
 */
final class EventStream {

    private static final long SUMMARY_MILLIS = 2000;
    private static final long HEARTBEAT_MILLIS = 5_000;

    private final DashboardServer server;
    private final HttpExchange exchange;
    private final List<RunWatch> runs;
    private final Map<String, long[]> positions;
    private final long pollMillis;

    EventStream(DashboardServer server, HttpExchange exchange, List<RunWatch> runs, Map<String, long[]> positions,
                long pollMillis) {
        this.server = server;
        this.exchange = exchange;
        this.runs = runs;
        this.positions = new LinkedHashMap<>(positions);
        this.pollMillis = pollMillis;
    }

    /**
     * Parses a cursor: {@code id:generation:offset} per run, comma-separated; malformed parts are
     * ignored (that run then gets a reset).
     */
    static Map<String, long[]> parseCursor(String cursor) {
        Map<String, long[]> out = new LinkedHashMap<>();
        if (cursor == null || cursor.isBlank()) {
            return out;
        }
        for (String part : cursor.split(",")) {
            String[] f = part.trim().split(":");
            if (f.length != 3 || !RunIndex.ID.matcher(f[0]).matches()) {
                continue;
            }
            try {
                out.put(f[0], new long[] {Long.parseLong(f[1]), Long.parseLong(f[2])});
            } catch (NumberFormatException e) {
                // ignored: that run gets a reset
            }
        }
        return out;
    }

    private String cursor() {
        StringBuilder sb = new StringBuilder();
        for (Map.Entry<String, long[]> e : positions.entrySet()) {
            if (sb.length() > 0) {
                sb.append(',');
            }
            sb.append(e.getKey()).append(':').append(e.getValue()[0]).append(':').append(e.getValue()[1]);
        }
        return sb.toString();
    }

    void run() {
        try (OutputStream out = exchange.getResponseBody()) {
            write(out, "retry: 2000\n: connected\n\n");
            long lastSummary = 0;
            long lastBeat = System.currentTimeMillis();
            String lastRuns = "";
            while (!server.closed() && !Thread.currentThread().isInterrupted()) {
                for (RunWatch r : runs) {
                    r.refresh();
                    long[] at = positions.get(r.id());
                    int gen = r.generation();
                    if (at == null || at[0] != gen || at[1] > r.offset()) {
                        // the browser's view is of another generation, or ahead of the file: start over
                        positions.put(r.id(), new long[] {gen, r.offset()});
                        event(out, "reset", null, "{\"run\":" + RunWatch.GSON.toJson(r.id()) + ",\"generation\":" + gen
                                + "}");
                        continue;
                    }
                    String delta = r.deltaJson(at[1]);
                    if (delta != null) {
                        positions.put(r.id(), new long[] {gen, r.offset()});
                        event(out, "delta", cursor(), "{\"run\":" + RunWatch.GSON.toJson(r.id()) + ",\"generation\":"
                                + gen + ",\"delta\":" + delta + "}");
                    }
                }
                long now = System.currentTimeMillis();
                if (now - lastSummary >= SUMMARY_MILLIS) {
                    lastSummary = now;
                    JsonArray summaries = new JsonArray();
                    for (RunWatch r : runs.isEmpty() ? server.index().runs() : runs) {
                        r.refresh();
                        summaries.add(r.summary(now));
                    }
                    String json = summaries.toString();
                    // durations and ETAs change every second: compare what a person would call a change
                    String shape = json.replaceAll("\"(durationSeconds|etaSeconds)\":[0-9.eE+-]+", "");
                    if (!shape.equals(lastRuns)) {
                        lastRuns = shape;
                        event(out, "runs", null, json);
                    }
                }
                if (now - lastBeat >= HEARTBEAT_MILLIS) {
                    lastBeat = now;
                    write(out, ": ping\n\n");
                }
                Thread.sleep(pollMillis);
            }
        } catch (IOException e) {
            // the browser closed the stream
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void event(OutputStream out, String type, String id, String data) throws IOException {
        StringBuilder sb = new StringBuilder();
        if (id != null) {
            sb.append("id: ").append(id).append('\n');
        }
        sb.append("event: ").append(type).append('\n');
        // JSON from Gson has no raw line breaks, so one data line carries it
        sb.append("data: ").append(data).append("\n\n");
        write(out, sb.toString());
    }

    private static void write(OutputStream out, String s) throws IOException {
        out.write(s.getBytes(StandardCharsets.UTF_8));
        out.flush();
    }
}
