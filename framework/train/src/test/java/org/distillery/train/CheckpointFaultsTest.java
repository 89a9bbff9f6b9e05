package org.distillery.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidFileException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.train.StageResult;
import org.distillery.kit.io.AtomicFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt checkpoints, a full disk while a checkpoint is written, and a loss that throws mid-run:
 * each is detected and reported, nothing is lost, and the run resumes to the same final weights as
 * an uninterrupted one.
 */
class CheckpointFaultsTest {

    private static final long STEPS = 12;
    private static final long EVERY = 4;

    @TempDir
    static Path root;
    static byte[] straight;

    @BeforeAll
    static void uninterrupted() throws Exception {
        Path dir = root.resolve("straight");
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 3, "")) {
            TinyRun.train(run);
        }
        straight = TinyRun.finalWeights(dir);
    }

    @AfterEach
    void clearHooks() {
        AtomicFiles.writeHook(null);
    }

    /** Runs the first 10 steps (checkpoints of steps 4, 8 and 10) in {@code dir}. */
    private static void interruptedAtTen(Path dir) throws Exception {
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 3, "")) {
            run.stopAfterSteps = 10;
            assertTrue(TinyRun.train(run).stopped());
        }
        assertEquals(Checkpoints.name(10), Files.readString(TinyRun.checkpoints(dir).resolve("latest")).trim());
    }

    /** Resumes to the end; returns the events. */
    private static List<Map<String, Object>> resume(Path dir) throws Exception {
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 3, "")) {
            TinyRun.train(run);
            return List.copyOf(run.events);
        }
    }

    private static Map<String, Object> only(List<Map<String, Object>> events, String type) {
        List<Map<String, Object>> found = events.stream().filter(e -> type.equals(e.get("type"))).toList();
        assertEquals(1, found.size(), type + " events: " + events);
        return found.get(0);
    }

    @Test
    void aTruncatedLatestCheckpointIsReportedAndThePreviousOneUsed() throws Exception {
        Path dir = root.resolve("truncated");
        interruptedAtTen(dir);
        Path optimizer = TinyRun.checkpoints(dir).resolve(Checkpoints.name(10)).resolve("optimizer.bin");
        try (FileChannel ch = FileChannel.open(optimizer, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() / 2);
        }
        List<Map<String, Object>> events = resume(dir);
        Map<String, Object> invalid = only(events, "checkpoint-invalid");
        assertEquals(Checkpoints.name(10), invalid.get("checkpoint"));
        assertTrue(invalid.get("problem").toString().contains("optimizer.bin") && invalid.get("problem").toString()
                .contains("truncated"), invalid.toString());
        assertEquals(Checkpoints.name(8), invalid.get("using"));
        assertEquals(Checkpoints.name(8), only(events, "resumed").get("checkpoint"));
        assertTrue(Files.isDirectory(TinyRun.checkpoints(dir).resolve("corrupt-" + Checkpoints.name(10))),
                "kept aside for inspection");
        assertArrayEquals(straight, TinyRun.finalWeights(dir));
    }

    @Test
    void aBitFlipInTheLatestCheckpointIsReportedAndThePreviousOneUsed() throws Exception {
        Path dir = root.resolve("flipped");
        interruptedAtTen(dir);
        Path weights = TinyRun.checkpoints(dir).resolve(Checkpoints.name(10)).resolve("model/model.safetensors");
        byte[] b = Files.readAllBytes(weights);
        b[b.length - 100] ^= 0x10;
        Files.write(weights, b);
        List<Map<String, Object>> events = resume(dir);
        Map<String, Object> invalid = only(events, "checkpoint-invalid");
        assertTrue(invalid.get("problem").toString().contains("model/model.safetensors does not match its checksum"),
                invalid.toString());
        assertEquals(Checkpoints.name(8), only(events, "resumed").get("checkpoint"));
        assertArrayEquals(straight, TinyRun.finalWeights(dir));
    }

    @Test
    void whenNoCheckpointIsValidTheRunFailsAsInvalidInputNamingTheFile() throws Exception {
        Path dir = root.resolve("none-valid");
        interruptedAtTen(dir);
        Path ckpts = TinyRun.checkpoints(dir);
        for (long step : new long[] {8, 10}) {
            Files.delete(ckpts.resolve(Checkpoints.name(step)).resolve("state.json"));
        }
        Path manifest = ckpts.resolve(Checkpoints.name(4)).resolve(Checkpoints.MANIFEST);
        Files.writeString(manifest, "{\"files\": ");
        Map<String, Long> before = TinyRun.files(ckpts);
        InvalidFileException e = assertThrows(InvalidFileException.class, () -> resume(dir));
        assertTrue(e.getMessage().startsWith(ckpts.resolve(Checkpoints.name(10)).toString()), e.getMessage());
        assertTrue(e.getMessage().contains("state.json is missing") && e.getMessage().contains("none of the 3"),
                e.getMessage());
        assertEquals(before, TinyRun.files(ckpts), "nothing moved or deleted");
    }

    /** A failing device: the {@code failAt}-th write into the staging folder of step 8's checkpoint fails. */
    private static AtomicInteger diskFullAt(int failAt) {
        AtomicInteger writes = new AtomicInteger();
        String staging = "/." + Checkpoints.name(8) + ".tmp/";
        AtomicFiles.writeHook((target, offset, length) -> {
            if (target.toString().replace('\\', '/').contains(staging) && writes.incrementAndGet() == failAt) {
                throw new IOException("No space left on device");
            }
        });
        return writes;
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (var s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
    }

    @Test
    void aFullDiskAtAnyWriteOfACheckpointLosesNothing() throws Exception {
        Path base = root.resolve("disk-base");
        try (TestRun run = TinyRun.open(base, STEPS, EVERY, 3, "")) {
            run.stopAfterSteps = 4;
            TinyRun.train(run);
        }
        Map<String, Long> before = TinyRun.files(TinyRun.checkpoints(base));
        assertEquals(List.of("latest", Checkpoints.name(4)), List.copyOf(
                before.keySet().stream().map(k -> k.split("/")[0]).distinct().sorted().toList()));
        int failures = 0;
        for (int k = 1; ; k++) {
            Path dir = root.resolve("disk-" + k);
            copyTree(base, dir);
            AtomicInteger writes = diskFullAt(k);
            try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 3, "")) {
                run.stopAfterSteps = 4;
                IOException e;
                try {
                    TinyRun.train(run);
                    e = null;
                } catch (IOException thrown) {
                    e = thrown;
                }
                AtomicFiles.writeHook(null);
                if (writes.get() < k) {
                    assertTrue(e == null, "no failure injected, yet: " + e);
                    break;
                }
                failures++;
                assertTrue(e != null, "write " + k + " failed, the run must fail");
                assertTrue(e.getMessage().contains("cannot write checkpoint " + Checkpoints.name(8))
                        && e.getMessage().contains("No space left on device")
                        && e.getMessage().contains("the previous checkpoints are intact"), e.getMessage());
            }
            Path ckpts = TinyRun.checkpoints(dir);
            assertEquals(before, TinyRun.files(ckpts), "write " + k + ": the checkpoints folder is as it was");
            assertFalse(Checkpoints.problem(ckpts.resolve(Checkpoints.name(4))).isPresent());
        }
        assertTrue(failures >= 10, "a checkpoint is many writes; failed " + failures);
        // with space again, the run resumes from step 4 and ends as if nothing happened
        Path dir = root.resolve("disk-1");
        resume(dir);
        assertArrayEquals(straight, TinyRun.finalWeights(dir));
        System.out.println("disk full at each of " + failures + " writes of a checkpoint: previous checkpoint intact");
    }

    /** Cross-entropy that throws on the {@code throwAt}-th computation. */
    static final class ThrowingLoss implements LossFactory {
        final AtomicInteger calls = new AtomicInteger();
        volatile int throwAt = -1;

        @Override
        public String description() {
            return "cross-entropy that throws once";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Loss ce = new CrossEntropy().create(context, params);
            return new Loss() {
                @Override
                public java.util.Set<Need> needs() {
                    return ce.needs();
                }

                @Override
                public LossValue compute(LossInput in) {
                    if (calls.incrementAndGet() == throwAt) {
                        throw new IllegalStateException("boom at call " + throwAt);
                    }
                    return ce.compute(in);
                }
            };
        }
    }

    @Test
    void aLossThatThrowsStopsTheRunWithACheckpointOfTheStepBefore() throws Exception {
        Path dir = root.resolve("throwing-loss");
        ThrowingLoss loss = new ThrowingLoss();
        loss.throwAt = 7;
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 3, "")) {
            run.register(ContributionKind.LOSS, "test.ce", loss, ConfigFactory.empty());
            StageResult r = TinyRun.train(run);
            assertTrue(r.stopped());
            assertEquals(6, r.stepsDone());
            Map<String, Object> stopping = only(run.events, "stopping");
            String reason = stopping.get("reason").toString();
            assertTrue(reason.startsWith("loss term 0 (test.ce@test/1.0.0) failed: IllegalStateException: boom at call 7")
                    && reason.contains("at step 7") && reason.contains("checkpoint of step 6"), reason);
            assertEquals(6L, run.steps().size() + 0L);
        }
        assertEquals(Checkpoints.name(6), Files.readString(TinyRun.checkpoints(dir).resolve("latest")).trim());
        loss.throwAt = -1;
        try (TestRun run = TinyRun.open(dir, STEPS, EVERY, 3, "")) {
            run.register(ContributionKind.LOSS, "test.ce", loss, ConfigFactory.empty());
            TinyRun.train(run);
            assertEquals(Checkpoints.name(6), only(run.events, "resumed").get("checkpoint"));
        }
        assertArrayEquals(straight, TinyRun.finalWeights(dir), "nothing of the failed step was kept");
    }
}
