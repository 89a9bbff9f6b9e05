package org.distillery.kernel.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.distillery.kernel.config.ExperimentException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunStatusTest {

    @TempDir
    Path dir;

    private JsonlEventLog log() throws Exception {
        return new JsonlEventLog(dir.resolve("events.jsonl"));
    }

    @Test
    void finishedStoppedAndGoneFromTheLastEvent() throws Exception {
        Files.createDirectories(dir.resolve("control"));
        Files.writeString(dir.resolve("control/lock"), "");
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
            log.step(1, Map.of("loss", 1.0));
            assertEquals(RunStatus.State.GONE, RunStatus.read(dir).state(), "no terminal event, nobody holds the lock");
            assertEquals("stopped (process gone)", RunStatus.read(dir).label());
            log.event("stop-requested", Map.of("reason", "control/stop file"));
            log.event("run-stopped", Map.of());
            assertEquals(new RunStatus.Status(RunStatus.State.STOPPED, "control/stop file"), RunStatus.read(dir));
            log.event("resume-requested", Map.of());
            log.event("run-started", Map.of());
            log.event("run-finished", Map.of());
            assertEquals(RunStatus.State.FINISHED, RunStatus.read(dir).state());
        }
        // a half-written line is not an event yet
        Files.writeString(dir.resolve("events.jsonl"), "{\"type\":\"run-fail", StandardOpenOption.APPEND);
        assertEquals(RunStatus.State.FINISHED, RunStatus.read(dir).state());
    }

    @Test
    void withoutEventsOrLockFileTheRunIsCreated() throws Exception {
        assertEquals(RunStatus.State.CREATED, RunStatus.read(dir).state());
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
        }
        assertEquals(RunStatus.State.CREATED, RunStatus.read(dir).state(), "no lock file: cannot tell it is gone");
    }

    @Test
    void aFailureIsRecordedInEventsAndResults() throws Exception {
        Path stage = Files.createDirectories(dir.resolve("stages/sft"));
        Files.writeString(stage.resolve("result.json"), "{\"steps\": 10, \"metrics\": {\"val.loss\": 2.5}}");
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
            RunStatus.recordFailure(dir, log, new IllegalStateException("out of memory in stage kd"));
        }
        RunStatus.Status s = RunStatus.read(dir);
        assertEquals(RunStatus.State.FAILED, s.state());
        assertTrue(s.reason().contains("out of memory in stage kd"), s.reason());
        assertTrue(s.label().startsWith("failed: "), s.label());
        JsonObject results = JsonParser.parseString(Files.readString(dir.resolve("results.json"))).getAsJsonObject();
        assertEquals("failed", results.get("status").getAsString());
        assertTrue(results.get("reason").getAsString().contains("out of memory"));
        assertEquals(2.5, results.getAsJsonObject("sft").getAsJsonObject("metrics").get("val.loss").getAsDouble());
    }

    @Test
    void failedResultsWithoutTheEventStillReadAsFailed() throws Exception {
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
        }
        Files.writeString(dir.resolve("results.json"), "{\"status\": \"failed\", \"reason\": \"disk full\"}");
        assertEquals(new RunStatus.Status(RunStatus.State.FAILED, "disk full"), RunStatus.read(dir));
    }

    @Test
    void theLockMarksARunningRunAndRefusesASecondRunner() throws Exception {
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
        }
        try (RunStatus.Lock lock = RunStatus.lock(dir)) {
            assertTrue(RunStatus.isLocked(dir));
            assertEquals(RunStatus.State.RUNNING, RunStatus.read(dir).state());
            ExperimentException e = assertThrows(ExperimentException.class, () -> RunStatus.lock(dir));
            assertTrue(e.problems().get(0).contains("being run by another process"), e.problems().toString());
        }
        assertFalse(RunStatus.isLocked(dir));
        assertEquals(RunStatus.State.GONE, RunStatus.read(dir).state());
    }

    @Test
    void aLockHeldByAnotherProcessMeansRunningUntilThatProcessDies() throws Exception {
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
        }
        Files.createDirectories(dir.resolve("control"));
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process child = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                LockHolder.class.getName(), dir.resolve("control/lock").toString()).redirectErrorStream(true).start();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
            assertEquals("locked", out.readLine());
            assertEquals(RunStatus.State.RUNNING, RunStatus.read(dir).state());
            assertThrows(ExperimentException.class, () -> RunStatus.lock(dir));
        } finally {
            child.destroyForcibly();
            assertTrue(child.waitFor(30, TimeUnit.SECONDS));
        }
        // the OS released the dead process's lock: the run is gone, and can be resumed
        assertEquals(RunStatus.State.GONE, RunStatus.read(dir).state());
        try (RunStatus.Lock lock = RunStatus.lock(dir)) {
            assertTrue(RunStatus.isLocked(dir));
        }
    }

    @Test
    void stopReasonOfAVanishedLoss() throws Exception {
        Files.createDirectories(dir.resolve("control"));
        try (JsonlEventLog log = log()) {
            log.event("run-started", Map.of());
            log.event("stopping", Map.of("reason", "loss 'kd.x' vanished"));
            log.event("stage-finished", Map.of("stopped", true));
            log.event("run-stopped", Map.of());
        }
        assertEquals("stopped (loss 'kd.x' vanished)", RunStatus.read(dir).label());
    }

    /** Holds an exclusive lock on the file named by its argument until killed. */
    public static final class LockHolder {
        /** Entry point of the child process. */
        public static void main(String[] args) throws Exception {
            FileChannel ch = FileChannel.open(Path.of(args[0]), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            ch.lock();
            System.out.println("locked");
            System.out.flush();
            Thread.sleep(TimeUnit.MINUTES.toMillis(5));
        }
    }
}
