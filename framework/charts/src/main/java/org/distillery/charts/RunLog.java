package org.distillery.charts;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;
import com.google.gson.stream.JsonWriter;

/**
 * A run's curves, markers and stage progress, built from the lines of its {@code events.jsonl}
 * as they arrive ({@link #accept}); every point and marker remembers the byte offset of the end
 * of its line, so the points after any offset can be handed to a client that has the rest.
 *
 * <p>What becomes a curve, keyed by stage and metric:
 * <ul>
 *   <li>{@code step} records: every numeric figure at x = {@code step}, nested objects flattened
 *       with dots ({@code loss}, {@code terms.0:kd.forward-kl}, {@code lr}, {@code grad-norm},
 *       {@code tokens-per-s}, {@code tensor-bytes}, {@code native-bytes}, {@code ms.data}, ...);</li>
 *   <li>{@code eval} events: the validation figures ({@code val.loss}, {@code val.rouge-l}, ...)
 *       at their step;</li>
 *   <li>any other event that is not bookkeeping ({@link #STRUCTURAL}): its numeric figures as
 *       {@code <type>.<figure>} (e.g. {@code minillm-rollout.reward}) at its own numeric
 *       {@code step}, else at the last step recorded in its stage.</li>
 * </ul>
 * Markers: checkpoints, loss swaps (a bundle update or an operator's swap), resumes, early stops
 * and stop requests, at the step where they happened. Not thread-safe.
 */
public final class RunLog {

    /** Events that are bookkeeping, never curves. */
    static final Set<String> STRUCTURAL = Set.of("run-started", "stage-started", "resumed", "stage-finished",
            "checkpoint", "loss-swap", "swap-request", "early-stop", "stop-requested", "stopping", "run-finished",
            "run-stopped", "run-failed", "resume-requested", "control-error", "loss-missing", "loss-returned",
            "evaluated", "data-generation-started", "data-generation-finished");

    private static final Set<String> STEP_KEYS = Set.of("time", "type", "step", "stage", "of");
    private static final Set<String> EVAL_KEYS = Set.of("time", "type", "step", "stage", "selected-by");
    private static final Set<String> EVENT_KEYS = Set.of("time", "type", "step", "stage");

    /** Where a curve's points come from. */
    public enum Kind {
        /** Training step records. */
        STEP,
        /** Validation ({@code eval} events). */
        EVAL,
        /** Figures of other events (rollouts, generation progress, ...). */
        EVENT
    }

    /**
     * A mark on the curves.
     *
     * @param stage the stage it belongs to
     * @param step its x position
     * @param kind {@code checkpoint}, {@code swap}, {@code resume}, {@code early-stop} or {@code stop}
     * @param label what happened, for people
     * @param offset the byte offset just after its line
     */
    public record Marker(String stage, double step, String kind, String label, long offset) {
    }

    /** One curve: points in arrival order. */
    public static class Series {
        private final String stage;
        private final String metric;
        private final Kind kind;
        private double[] x = new double[16];
        private double[] y = new double[16];
        private long[] millis = new long[16];
        private long[] offsets = new long[16];
        private int size;

        Series(String stage, String metric, Kind kind) {
            this.stage = stage;
            this.metric = metric;
            this.kind = kind;
        }

        void add(double xv, double yv, long time, long offset) {
            if (size == x.length) {
                int cap = size * 2;
                x = Arrays.copyOf(x, cap);
                y = Arrays.copyOf(y, cap);
                millis = Arrays.copyOf(millis, cap);
                offsets = Arrays.copyOf(offsets, cap);
            }
            x[size] = xv;
            y[size] = yv;
            millis[size] = time;
            offsets[size] = offset;
            size++;
        }

        /** The stage. */
        public String stage() {
            return stage;
        }

        /** The metric, e.g. {@code loss} or {@code val.loss}. */
        public String metric() {
            return metric;
        }

        /** Where the points come from. */
        public Kind kind() {
            return kind;
        }

        /** How many points. */
        public int size() {
            return size;
        }

        /** A copy of the x values. */
        public double[] x() {
            return Arrays.copyOf(x, size);
        }

        /** A copy of the y values. */
        public double[] y() {
            return Arrays.copyOf(y, size);
        }

        /** A copy of the points' times (epoch ms of their lines; 0 when a line had none). */
        public long[] millis() {
            return Arrays.copyOf(millis, size);
        }

        /** The index of the first point whose line ends after {@code offset}. */
        int firstAfter(long offset) {
            int lo = 0;
            int hi = size;
            while (lo < hi) {
                int mid = (lo + hi) >>> 1;
                if (offsets[mid] <= offset) {
                    lo = mid + 1;
                } else {
                    hi = mid;
                }
            }
            return lo;
        }
    }

    /** A stage's progress as the log tells it. */
    public static final class Stage {
        private final String name;
        private String state = "pending";
        private double step;
        private double of;
        private long startedMillis;
        private long endedMillis;
        private long lastStepMillis;
        private double rateBaseStep = Double.NaN;
        private long rateBaseMillis;

        Stage(String name) {
            this.name = name;
        }

        /** The stage's name. */
        public String name() {
            return name;
        }

        /** {@code pending}, {@code running}, {@code done} or {@code stopped}. */
        public String state() {
            return state;
        }

        /** The last step recorded (0 before the first). */
        public double step() {
            return step;
        }

        /** The stage's planned steps, 0 when unknown. */
        public double of() {
            return of;
        }

        /** When it started (epoch ms; 0 unknown). */
        public long startedMillis() {
            return startedMillis;
        }

        /** When it finished (epoch ms; 0 not yet). */
        public long endedMillis() {
            return endedMillis;
        }

        /**
         * Seconds left for this stage at the pace of its steps since it started or resumed
         * (the last step's time to now is not counted), or NaN when not measurable.
         */
        public double etaSeconds() {
            if (!"running".equals(state) || of <= 0 || Double.isNaN(rateBaseStep) || step <= rateBaseStep) {
                return Double.NaN;
            }
            double perStep = (lastStepMillis - rateBaseMillis) / 1000.0 / (step - rateBaseStep);
            return Math.max(0, perStep * (of - step));
        }
    }

    private final boolean keepCurves;
    /** Where the points of a progress-only log go: a series that forgets what it is given. */
    private static final Series DISCARD = new Series("", "", Kind.STEP) {
        @Override
        void add(double xv, double yv, long time, long offset) {
            // progress only: no points kept
        }
    };

    private final Map<String, Series> series = new LinkedHashMap<>();
    private final List<Marker> markers = new ArrayList<>();
    private final Map<String, Stage> stages = new LinkedHashMap<>();
    private final Map<String, Double> lastStep = new LinkedHashMap<>();
    private String currentStage = "";
    private String method = "";
    private long startedMillis;
    private long lastMillis;
    private long offset;
    private long lines;
    private long badLines;

    /** A log that keeps curves, markers and progress. */
    public RunLog() {
        this(true);
    }

    private RunLog(boolean keepCurves) {
        this.keepCurves = keepCurves;
    }

    /**
     * A log that keeps markers and stage progress but no curve points: what a list of many runs
     * needs, in memory that does not grow with the number of steps.
     */
    public static RunLog progressOnly() {
        return new RunLog(false);
    }

    /** Whether this log keeps curve points ({@link #progressOnly()} does not). */
    public boolean keepsCurves() {
        return keepCurves;
    }

    /** Reads a whole event log (for reports and exports). */
    public static RunLog read(Path events) throws IOException {
        RunLog log = new RunLog();
        EventTail tail = new EventTail(events);
        while (true) {
            EventTail.Batch b = tail.poll();
            if (b.lines().isEmpty()) {
                return log;
            }
            for (EventTail.Line l : b.lines()) {
                log.accept(l.text(), l.end());
            }
        }
    }

    /** Takes one line of the log; {@code end} is the byte offset just after it. */
    public void accept(String line, long end) {
        offset = end;
        lines++;
        JsonObject e;
        try {
            JsonElement parsed = line.isBlank() ? null : JsonParser.parseString(line);
            if (parsed == null || !parsed.isJsonObject()) {
                badLines++;
                return;
            }
            e = parsed.getAsJsonObject();
        } catch (JsonParseException ex) {
            badLines++;
            return;
        }
        String type = string(e, "type");
        long t = millis(e);
        if (t > 0) {
            lastMillis = t;
        }
        String stage = e.has("stage") && e.get("stage").isJsonPrimitive() ? e.get("stage").getAsString()
                : currentStage;
        switch (type) {
            case "step" -> {
                double step = number(e.get("step"));
                flatten(e, "", STEP_KEYS, (metric, v) -> series(stage, metric, Kind.STEP).add(step, v, t, end));
                lastStep.put(stage, step);
                Stage s = stage(stage);
                s.step = step;
                if (e.has("of")) {
                    s.of = number(e.get("of"));
                }
                if ("pending".equals(s.state)) {
                    s.state = "running";
                }
                s.lastStepMillis = t;
                if (Double.isNaN(s.rateBaseStep)) {
                    // the pace counts from the first step after a start or resume: that one paid the warm-up
                    s.rateBaseStep = step;
                    s.rateBaseMillis = t;
                }
            }
            case "eval" -> {
                double step = number(e.get("step"));
                flatten(e, "", EVAL_KEYS, (metric, v) -> series(stage, metric, Kind.EVAL).add(step, v, t, end));
            }
            case "run-started" -> {
                if (startedMillis == 0) {
                    startedMillis = t;
                }
                method = string(e, "method");
                if (e.has("stages") && e.get("stages").isJsonArray()) {
                    for (JsonElement s : e.getAsJsonArray("stages")) {
                        stage(s.getAsString());
                    }
                }
            }
            case "stage-started" -> {
                currentStage = stage;
                Stage s = stage(stage);
                s.state = "running";
                s.startedMillis = t;
                s.endedMillis = 0;
                s.rateBaseStep = Double.NaN;
            }
            case "resumed" -> {
                Stage s = stage(stage);
                s.rateBaseStep = Double.NaN;
                s.step = number(e.get("step"));
                mark(stage, s.step, "resume", "resumed from " + string(e, "checkpoint"), end);
            }
            case "stage-finished" -> {
                Stage s = stage(stage);
                s.state = e.has("stopped") && e.get("stopped").getAsBoolean() ? "stopped" : "done";
                s.endedMillis = t;
            }
            case "checkpoint" -> {
                double step = e.has("step") ? number(e.get("step")) : lastStep.getOrDefault(stage, 0.0);
                mark(stage, step, "checkpoint", "checkpoint at step " + format(step), end);
            }
            case "loss-swap" -> mark(stage, lastStep.getOrDefault(stage, 0.0), "swap", "term " + string(e, "term")
                    + ": " + string(e, "old") + " \u2192 " + string(e, "new"), end);
            case "swap-request" -> {
                if (e.has("applied") && e.get("applied").getAsBoolean()) {
                    mark(stage, lastStep.getOrDefault(stage, 0.0), "swap", "term " + string(e, "term") + " \u2192 "
                            + string(e, "key") + " (requested)", end);
                }
            }
            case "early-stop" -> mark(stage, number(e.get("step")), "early-stop",
                    "early stop (best step " + string(e, "best-step") + ")", end);
            case "stop-requested" -> mark(stage, lastStep.getOrDefault(stage, 0.0), "stop",
                    "stop requested: " + string(e, "reason"), end);
            default -> {
                if (!STRUCTURAL.contains(type) && !type.isEmpty()) {
                    double step = e.has("step") && e.get("step").isJsonPrimitive()
                            && e.get("step").getAsJsonPrimitive().isNumber() ? number(e.get("step"))
                            : lastStep.getOrDefault(stage, 0.0);
                    flatten(e, type + ".", EVENT_KEYS, (metric, v) -> series(stage, metric, Kind.EVENT)
                            .add(step, v, t, end));
                }
            }
        }
    }

    /** Forgets everything: the log was truncated or replaced and is read again from the start. */
    public void reset() {
        series.clear();
        markers.clear();
        stages.clear();
        lastStep.clear();
        currentStage = "";
        method = "";
        startedMillis = 0;
        lastMillis = 0;
        offset = 0;
        lines = 0;
        badLines = 0;
    }

    /** The byte offset just after the last line taken. */
    public long offset() {
        return offset;
    }

    /** Lines taken, and how many of them were not JSON objects. */
    public long lines() {
        return lines;
    }

    /** Lines that were not JSON objects (damaged or foreign). */
    public long badLines() {
        return badLines;
    }

    /** The curves in order of first appearance. */
    public Collection<Series> series() {
        return series.values();
    }

    /** The markers in file order. */
    public List<Marker> markers() {
        return List.copyOf(markers);
    }

    /** The stages: those announced by {@code run-started}, then any others seen, in order. */
    public Collection<Stage> stages() {
        return stages.values();
    }

    /** The method's coordinates from {@code run-started}, or empty. */
    public String method() {
        return method;
    }

    /** When the run first started (epoch ms), 0 when not yet. */
    public long startedMillis() {
        return startedMillis;
    }

    /** The time of the last event (epoch ms), 0 when none. */
    public long lastMillis() {
        return lastMillis;
    }

    /**
     * Writes the curves as JSON: {@code {offset, series: [{stage, metric, kind, n, x, y}], markers: [...]}}
     * with each curve downsampled to at most about {@code maxPoints} points ({@link Downsample}); {@code n} is
     * the number of points before downsampling. Non-finite values are written as {@code null}.
     */
    public void writeCurves(JsonWriter w, int maxPoints) throws IOException {
        w.beginObject();
        w.name("offset").value(offset);
        w.name("series").beginArray();
        for (Series s : series.values()) {
            int[] keep = Downsample.minMaxIndices(s.size, Downsample.bucketsFor(maxPoints), s.y);
            writeSeries(w, s, keep);
        }
        w.endArray();
        writeMarkers(w, 0);
        w.endObject();
    }

    /**
     * Writes what came after byte {@code after} (a previous {@link #offset()}) as JSON, every
     * point: {@code {from, offset, series: [...], markers: [...]}}; series without new points are left out.
     */
    public void writeDelta(JsonWriter w, long after) throws IOException {
        w.beginObject();
        w.name("from").value(after);
        w.name("offset").value(offset);
        w.name("series").beginArray();
        for (Series s : series.values()) {
            int first = s.firstAfter(after);
            if (first == s.size) {
                continue;
            }
            int[] keep = new int[s.size - first];
            for (int i = 0; i < keep.length; i++) {
                keep[i] = first + i;
            }
            writeSeries(w, s, keep);
        }
        w.endArray();
        writeMarkers(w, after);
        w.endObject();
    }

    private void writeMarkers(JsonWriter w, long after) throws IOException {
        w.name("markers").beginArray();
        for (Marker m : markers) {
            if (m.offset() <= after) {
                continue;
            }
            w.beginObject();
            w.name("stage").value(m.stage());
            w.name("step");
            writeNumber(w, m.step(), false);
            w.name("kind").value(m.kind());
            w.name("label").value(m.label());
            w.endObject();
        }
        w.endArray();
    }

    private static void writeSeries(JsonWriter w, Series s, int[] keep) throws IOException {
        w.beginObject();
        w.name("stage").value(s.stage);
        w.name("metric").value(s.metric);
        w.name("kind").value(s.kind.name().toLowerCase(java.util.Locale.ROOT));
        w.name("n").value(s.size);
        w.name("x").beginArray();
        for (int i : keep) {
            writeNumber(w, s.x[i], false);
        }
        w.endArray();
        w.name("y").beginArray();
        for (int i : keep) {
            writeNumber(w, s.y[i], true);
        }
        w.endArray();
        w.endObject();
    }

    /**
     * A number in JSON: integral values without a fraction, others as a float's shortest
     * decimal when {@code compact} (7 significant digits are plenty on a chart), {@code null}
     * when not finite.
     */
    public static void writeNumber(JsonWriter w, double v, boolean compact) throws IOException {
        if (!Double.isFinite(v)) {
            w.nullValue();
        } else if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            w.value((long) v);
        } else if (compact && Math.abs(v) < Float.MAX_VALUE && (float) v != 0f) {
            w.value(Float.valueOf((float) v));
        } else {
            w.value(v);
        }
    }

    private Stage stage(String name) {
        return stages.computeIfAbsent(name, Stage::new);
    }

    private Series series(String stage, String metric, Kind kind) {
        if (!keepCurves) {
            return DISCARD;
        }
        return series.computeIfAbsent(stage + '\u0000' + metric, k -> new Series(stage, metric, kind));
    }

    private void mark(String stage, double step, String kind, String label, long end) {
        markers.add(new Marker(stage, step, kind, label, end));
    }

    /** Receives one flattened figure. */
    private interface Figure {
        void accept(String metric, double value);
    }

    private static void flatten(JsonObject o, String prefix, Set<String> skip, Figure out) {
        for (Map.Entry<String, JsonElement> m : o.entrySet()) {
            if (skip != null && skip.contains(m.getKey())) {
                continue;
            }
            JsonElement v = m.getValue();
            if (v.isJsonObject()) {
                flatten(v.getAsJsonObject(), prefix + m.getKey() + ".", null, out);
            } else if (v.isJsonPrimitive()) {
                JsonPrimitive p = v.getAsJsonPrimitive();
                if (p.isNumber()) {
                    out.accept(prefix + m.getKey(), p.getAsDouble());
                } else if (p.isString() && isSpecial(p.getAsString())) {
                    // Gson writes non-finite figures as bare NaN / Infinity, read back as strings
                    out.accept(prefix + m.getKey(), Double.parseDouble(p.getAsString()));
                }
            }
        }
    }

    private static boolean isSpecial(String s) {
        return s.equals("NaN") || s.equals("Infinity") || s.equals("-Infinity");
    }

    private static double number(JsonElement e) {
        if (e == null || !e.isJsonPrimitive()) {
            return 0;
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        if (p.isNumber()) {
            return p.getAsDouble();
        }
        try {
            return Double.parseDouble(p.getAsString());
        } catch (NumberFormatException ex) {
            return 0;
        }
    }

    private static long millis(JsonObject e) {
        JsonElement t = e.get("time");
        if (t == null || !t.isJsonPrimitive()) {
            return 0;
        }
        try {
            return Instant.parse(t.getAsString()).toEpochMilli();
        } catch (DateTimeParseException ex) {
            return 0;
        }
    }

    private static String string(JsonObject o, String member) {
        JsonElement e = o.get(member);
        if (e == null || e.isJsonNull()) {
            return "";
        }
        if (e.isJsonArray()) {
            JsonArray a = e.getAsJsonArray();
            return a.toString();
        }
        return e.isJsonPrimitive() ? e.getAsString() : e.toString();
    }

    private static String format(double step) {
        return step == Math.rint(step) ? Long.toString((long) step) : Double.toString(step);
    }
}
