package org.distillery.train;

import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import org.distillery.kit.io.AtomicFiles;

/**
 * A child process for {@link CheckpointCrashTest}: runs {@link TinyRun} and ends the process
 * abruptly ({@link Runtime#halt}, no shutdown hooks, no {@code finally}) at one point of the
 * checkpoint protocol while it writes the checkpoint of step {@code step}.
 */
public final class CrashingRun {

    /** The exit status of a process ended at its crash point. */
    static final int CRASHED = 77;

    /** The points of the checkpoint protocol the process can be ended at. */
    enum Point {
        /** Half-way through the student's weights file of the checkpoint being staged. */
        MID_WEIGHTS,
        /** Half-way through the optimizer state of the checkpoint being staged. */
        MID_OPTIMIZER,
        /** The staged checkpoint is complete (manifest included), not yet renamed into place. */
        BEFORE_RENAME,
        /** The checkpoint is in place; the {@code latest} pointer still names the previous one. */
        AFTER_RENAME,
        /** While the {@code latest} pointer is being written. */
        MID_POINTER,
        /** While the old checkpoint beyond {@code keep-checkpoints} is being deleted, one file gone. */
        DURING_CLEANUP
    }

    private CrashingRun() {
    }

    /** {@code <dir> <point> <step>}: runs the tiny run in {@code dir} and crashes as told. */
    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        Point point = Point.valueOf(args[1]);
        String staged = "." + Checkpoints.name(Long.parseLong(args[2])) + ".tmp";
        String name = Checkpoints.name(Long.parseLong(args[2]));
        AtomicBoolean committed = new AtomicBoolean();
        AtomicInteger deletions = new AtomicInteger();
        AtomicFiles.writeHook((target, offset, length) -> {
            String t = target.toString().replace('\\', '/');
            boolean inStaging = t.contains("/" + staged + "/");
            if (point == Point.MID_WEIGHTS && inStaging && t.endsWith("/model/model.safetensors") && offset > 0
                    || point == Point.MID_OPTIMIZER && inStaging && t.endsWith("/optimizer.bin") && offset > 0
                    || point == Point.MID_POINTER && committed.get() && t.endsWith("/checkpoints/latest")) {
                crash();
            }
        });
        Checkpoints.faultHook((p, path) -> {
            String f = path.getFileName().toString();
            if (p == Checkpoints.Point.STAGED && f.equals(staged) && point == Point.BEFORE_RENAME
                    || p == Checkpoints.Point.COMMITTED && f.equals(name) && point == Point.AFTER_RENAME) {
                crash();
            }
            if (p == Checkpoints.Point.COMMITTED && f.equals(name)) {
                committed.set(true);
            }
            if (p == Checkpoints.Point.CLEANING && committed.get() && point == Point.DURING_CLEANUP
                    && deletions.incrementAndGet() == 2) {
                crash();
            }
        });
        try (TestRun run = TinyRun.open(dir, CheckpointCrashTest.STEPS, CheckpointCrashTest.EVERY, 1, "")) {
            TinyRun.train(run);
        }
        System.exit(0);
    }

    private static void crash() {
        System.out.flush();
        Runtime.getRuntime().halt(CRASHED);
    }
}
