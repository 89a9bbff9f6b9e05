package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The process is killed (no shutdown hooks, no cleanup) at each point of the checkpoint protocol;
 * resuming gives final weights bit-identical to an uninterrupted run. The kill happens in a
 * child JVM ({@link CrashingRun}); the resume runs here.
 */
class CheckpointCrashTest {

    static final long STEPS = 12;
    static final long EVERY = 4;

    @TempDir
    static Path root;
    static byte[] straight;

    @BeforeAll
    static void uninterrupted() throws Exception {
        Path dir = root.resolve("straight");
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 1, "")) {
            TinyRun.train(run);
        }
        straight = TinyRun.finalWeights(dir);
    }

    /** The test JVM's class path (surefire names it; else the launcher's). */
    private static String classPath() {
        String cp = System.getProperty("surefire.test.class.path");
        return cp != null && !cp.isBlank() ? cp : System.getProperty("java.class.path");
    }

    private static int crash(Path dir, CrashingRun.Point point, long step) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx1g", "-Dai.djl.offline=true"));
        // the same engine threads as this JVM: another thread count sums in another order, a last bit differs
        for (String p : List.of("ai.djl.pytorch.num_threads", "ai.djl.pytorch.num_interop_threads")) {
            if (System.getProperty(p) != null) {
                cmd.add("-D" + p + "=" + System.getProperty(p));
            }
        }
        cmd.addAll(List.of("-cp", classPath(), CrashingRun.class.getName(), dir.toString(), point.name(),
                Long.toString(step)));
        Path log = Files.createDirectories(dir).resolve("child.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(600, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError("the child did not end: " + Files.readString(log));
        }
        assertEquals(CrashingRun.CRASHED, p.exitValue(), "the child must die at " + point + ": " + Files.readString(log));
        return p.exitValue();
    }

    @ParameterizedTest(name = "{0} at the checkpoint of step {1}")
    @CsvSource({
        "MID_WEIGHTS, 8, step-00000004",
        "MID_OPTIMIZER, 8, step-00000004",
        "BEFORE_RENAME, 8, step-00000004",
        "AFTER_RENAME, 8, step-00000008",
        "MID_POINTER, 8, step-00000008",
        "DURING_CLEANUP, 8, step-00000008",
        "MID_WEIGHTS, 4, ",
    })
    void resumeAfterAKillEndsBitIdentical(CrashingRun.Point point, long step, String resumeFrom) throws Exception {
        Path dir = root.resolve(point + "-" + step);
        crash(dir, point, step);
        Path ckpts = TinyRun.checkpoints(dir);
        String latest = Files.exists(ckpts.resolve("latest")) ? Files.readString(ckpts.resolve("latest")).trim() : "";
        switch (point) {
            case MID_WEIGHTS, MID_OPTIMIZER, BEFORE_RENAME -> {
                assertTrue(Files.isDirectory(ckpts.resolve("." + Checkpoints.name(step) + ".tmp")), "half-staged");
                assertFalse(Files.exists(ckpts.resolve(Checkpoints.name(step))), "nothing under the final name");
                assertEquals(step == EVERY ? "" : Checkpoints.name(step - EVERY), latest);
            }
            case AFTER_RENAME, MID_POINTER -> {
                assertTrue(Files.isDirectory(ckpts.resolve(Checkpoints.name(step))));
                assertEquals(Checkpoints.name(step - EVERY), latest, "the pointer was not moved yet");
            }
            case DURING_CLEANUP -> {
                assertEquals(Checkpoints.name(step), latest);
                assertTrue(Files.isDirectory(ckpts.resolve(".deleting-" + Checkpoints.name(step - EVERY))),
                        "half-deleted, out of the way");
            }
            default -> throw new IllegalStateException();
        }
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 1, "")) {
            TinyRun.train(run);
            List<Map<String, Object>> resumed = run.events.stream().filter(e -> "resumed".equals(e.get("type")))
                    .toList();
            if (resumeFrom == null) {
                assertTrue(resumed.isEmpty(), "no checkpoint to resume from: " + resumed);
            } else {
                assertEquals(resumeFrom, resumed.get(0).get("checkpoint"), resumed.toString());
            }
            assertTrue(run.events.stream().noneMatch(e -> "checkpoint-invalid".equals(e.get("type"))),
                    "nothing reported corrupt: " + run.events);
        }
        assertArrayEquals(straight, TinyRun.finalWeights(dir), point + ": final weights differ from the uninterrupted run");
        try (var s = Files.list(ckpts)) {
            List<String> left = s.map(p -> p.getFileName().toString()).sorted().toList();
            assertEquals(List.of("latest", Checkpoints.name(STEPS)), left, "leftovers are cleaned up: " + left);
        }
        assertTrue(new File(dir.toFile(), "child.log").exists());
    }
}
