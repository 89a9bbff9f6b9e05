package org.distillery.charts;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.StringWriter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.google.gson.stream.JsonWriter;

import org.junit.jupiter.api.Test;

class RunLogTest {

    /** Lines as KdTrainer and RunManager write them (NaN as Gson writes it). */
    static final List<String> LINES = List.of(
            "{\"time\":\"2026-01-01T00:00:00Z\",\"type\":\"run-started\",\"stages\":[\"sft\",\"evaluate\"],\"method\":\"kd.compare@x/1\"}",
            "{\"time\":\"2026-01-01T00:00:01Z\",\"type\":\"stage-started\",\"stage\":\"sft\"}",
            "{\"time\":\"2026-01-01T00:00:02Z\",\"type\":\"step\",\"step\":1,\"stage\":\"sft\",\"of\":4,\"loss\":2.5,"
                    + "\"terms\":{\"0:kd.sft\":2.5},\"lr\":0.001,\"grad-norm\":1.5,\"tokens-per-s\":100,"
                    + "\"ms\":{\"data\":1.0},\"tensor-bytes\":1024,\"skipped\":\"non-finite gradient\"}",
            "{\"time\":\"2026-01-01T00:00:04Z\",\"type\":\"step\",\"step\":2,\"stage\":\"sft\",\"of\":4,\"loss\":NaN}",
            "{\"time\":\"2026-01-01T00:00:06Z\",\"type\":\"step\",\"step\":3,\"stage\":\"sft\",\"of\":4,\"loss\":1.5}",
            "{\"time\":\"2026-01-01T00:00:06Z\",\"type\":\"eval\",\"stage\":\"sft\",\"step\":3,\"val.loss\":1.7,\"selected-by\":\"val.loss\"}",
            "{\"time\":\"2026-01-01T00:00:06Z\",\"type\":\"checkpoint\",\"step\":3,\"path\":\"/x\"}",
            "{\"time\":\"2026-01-01T00:00:07Z\",\"type\":\"loss-swap\",\"term\":0,\"old\":\"kd.sft@a/1\",\"new\":\"kd.sft@a/2\"}",
            "{\"time\":\"2026-01-01T00:00:07Z\",\"type\":\"minillm-rollout\",\"round\":1,\"reward\":-0.5}",
            "not json at all",
            "{\"time\":\"2026-01-01T00:00:08Z\",\"type\":\"step\",\"step\":4,\"stage\":\"sft\",\"of\":4,\"loss\":1.0}",
            "{\"time\":\"2026-01-01T00:00:09Z\",\"type\":\"stage-finished\",\"stage\":\"sft\",\"steps\":4,\"stopped\":false}");

    static RunLog feed(List<String> lines) {
        RunLog log = new RunLog();
        long off = 0;
        for (String l : lines) {
            off += l.length() + 1;
            log.accept(l, off);
        }
        return log;
    }

    private static Map<String, RunLog.Series> byName(RunLog log) {
        Map<String, RunLog.Series> m = new TreeMap<>();
        log.series().forEach(s -> m.put(s.stage() + "/" + s.metric(), s));
        return m;
    }

    @Test
    void stepRecordsEvalAndOtherEventsBecomeCurves() {
        RunLog log = feed(LINES);
        Map<String, RunLog.Series> s = byName(log);
        assertArrayEquals(new double[] {1, 2, 3, 4}, s.get("sft/loss").x());
        assertTrue(Double.isNaN(s.get("sft/loss").y()[1]), "a non-finite loss stays a gap");
        assertEquals(1.0, s.get("sft/loss").y()[3]);
        assertEquals(2.5, s.get("sft/terms.0:kd.sft").y()[0]);
        assertEquals(1.0, s.get("sft/ms.data").y()[0]);
        assertEquals(1024, s.get("sft/tensor-bytes").y()[0]);
        assertEquals(RunLog.Kind.EVAL, s.get("sft/val.loss").kind());
        assertArrayEquals(new double[] {3}, s.get("sft/val.loss").x());
        // an event without a step is placed at the last step of its stage
        assertArrayEquals(new double[] {3}, s.get("sft/minillm-rollout.reward").x());
        assertEquals(RunLog.Kind.EVENT, s.get("sft/minillm-rollout.reward").kind());
        assertTrue(!s.containsKey("sft/skipped") && !s.containsKey("sft/of") && !s.containsKey("sft/step"));
        assertEquals(1, log.badLines());
        assertEquals(LINES.size(), log.lines());
    }

    @Test
    void markersAndStageProgress() {
        RunLog log = feed(LINES);
        List<RunLog.Marker> m = log.markers();
        assertEquals(2, m.size());
        assertEquals("checkpoint", m.get(0).kind());
        assertEquals(3, m.get(0).step());
        assertEquals("swap", m.get(1).kind());
        assertTrue(m.get(1).label().contains("kd.sft@a/1") && m.get(1).label().contains("kd.sft@a/2"));
        List<RunLog.Stage> stages = List.copyOf(log.stages());
        assertEquals(List.of("sft", "evaluate"), stages.stream().map(RunLog.Stage::name).toList());
        assertEquals("done", stages.get(0).state());
        assertEquals(4, stages.get(0).step());
        assertEquals(4, stages.get(0).of());
        assertEquals("pending", stages.get(1).state());
        assertEquals(java.time.Instant.parse("2026-01-01T00:00:00Z").toEpochMilli(), log.startedMillis());
        assertEquals("kd.compare@x/1", log.method());
    }

    @Test
    void etaFollowsThePaceSinceTheFirstStep() {
        RunLog log = feed(LINES.subList(0, 5)); // steps 1..3 of 4, two seconds apart
        RunLog.Stage sft = log.stages().iterator().next();
        assertEquals("running", sft.state());
        assertEquals(2.0, sft.etaSeconds(), 1e-9, "2 s per step, one step left");
    }

    @Test
    void deltaHoldsExactlyWhatCameAfterAnOffset() throws Exception {
        RunLog log = feed(LINES);
        long afterStep2 = 0;
        for (int i = 0; i <= 3; i++) {
            afterStep2 += LINES.get(i).length() + 1;
        }
        StringWriter out = new StringWriter();
        log.writeDelta(new JsonWriter(out), afterStep2);
        JsonObject d = JsonParser.parseString(out.toString()).getAsJsonObject();
        assertEquals(afterStep2, d.get("from").getAsLong());
        assertEquals(log.offset(), d.get("offset").getAsLong());
        Map<String, JsonObject> series = new TreeMap<>();
        for (JsonElement e : d.getAsJsonArray("series")) {
            series.put(e.getAsJsonObject().get("metric").getAsString(), e.getAsJsonObject());
        }
        assertEquals("[3,4]", series.get("loss").get("x").toString());
        assertEquals("[1.5,1]", series.get("loss").get("y").toString());
        assertTrue(!series.containsKey("lr"), "no new lr points after step 2");
        assertEquals(2, d.getAsJsonArray("markers").size());
    }

    @Test
    void curvesAreDownsampledAndNonFiniteValuesAreNull() throws Exception {
        RunLog log = new RunLog();
        long off = 0;
        for (int step = 1; step <= 10_000; step++) {
            String l = "{\"type\":\"step\",\"stage\":\"a\",\"step\":" + step + ",\"loss\":"
                    + (step == 5000 ? "99.0" : step == 6000 ? "NaN" : Double.toString(1.0 / step)) + "}";
            off += l.length() + 1;
            log.accept(l, off);
        }
        StringWriter out = new StringWriter();
        log.writeCurves(new JsonWriter(out), 200);
        JsonObject c = JsonParser.parseString(out.toString()).getAsJsonObject();
        JsonObject loss = c.getAsJsonArray("series").get(0).getAsJsonObject();
        assertEquals(10_000, loss.get("n").getAsInt());
        JsonArray x = loss.getAsJsonArray("x");
        JsonArray y = loss.getAsJsonArray("y");
        assertTrue(x.size() <= 200, x.size() + " points");
        boolean spike = false;
        for (int i = 0; i < x.size(); i++) {
            spike |= x.get(i).getAsInt() == 5000 && y.get(i).getAsDouble() == 99.0;
        }
        assertTrue(spike, "the spike at step 5000 survives downsampling");
        assertEquals(off, c.get("offset").getAsLong());
    }

    @Test
    void resetForgetsEverything() {
        RunLog log = feed(LINES);
        log.reset();
        assertEquals(0, log.offset());
        assertTrue(log.series().isEmpty() && log.markers().isEmpty() && log.stages().isEmpty());
    }
}
