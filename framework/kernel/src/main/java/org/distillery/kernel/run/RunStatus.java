package org.distillery.kernel.run;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;

import org.distillery.api.run.EventLog;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.kernel.osgi.BundleProblems;
import org.distillery.kit.io.AtomicFiles;

/**
 * Whether a run directory is running, finished, stopped or failed, and the two records that
 * make this knowable from outside the process: an OS file lock on {@code control/lock} held
 * while the run executes ({@link #lock}), and a {@code run-failed} event plus
 * {@code results.json} with {@code "status": "failed"} when a stage throws ({@link #recordFailure}).
 *
 * <p>{@link #read} decides, in this order: the lock is held by a live process → running; the
 * last complete line of {@code events.jsonl} is {@code run-finished}, {@code run-stopped} or
 * {@code run-failed} → finished, stopped (with the stop's reason) or failed (with the error);
 * no terminal event while nobody holds the lock → {@link State#GONE}, "stopped (process gone)":
 * the process was killed or crashed mid-run (its last checkpoint can be resumed).
 */
public final class RunStatus {

    /** Lock file inside {@code control/}. */
    public static final String LOCK_FILE = "lock";

    /** How far from the end of {@code events.jsonl} {@link #read} looks for the last events. */
    private static final int TAIL_BYTES = 64 * 1024;
    /** How long {@link #lock} retries when a reader holds the lock for an instant. */
    private static final long LOCK_WAIT_MILLIS = 2000;

    /** What a run is doing. */
    public enum State {
        /** A process holds the run's lock. */
        RUNNING,
        /** The last event is {@code run-finished}. */
        FINISHED,
        /** The last event is {@code run-stopped}: an operator stop or a vanished loss, checkpoint kept. */
        STOPPED,
        /** A stage threw: {@code run-failed} or {@code results.json} with {@code "status": "failed"}. */
        FAILED,
        /** No terminal event and no process holding the lock: killed or crashed. */
        GONE,
        /** A run directory without events: created and never started, or made by an older version. */
        CREATED
    }

    /**
     * A run's status.
     *
     * @param state what it is doing
     * @param reason why it stopped or failed; empty otherwise
     */
    public record Status(State state, String reason) {

        /** {@code running}, {@code finished}, {@code stopped}, {@code failed}, {@code gone} or {@code created}. */
        public String name() {
            return state.name().toLowerCase(java.util.Locale.ROOT);
        }

        /** One line for people: {@code failed: <error>}, {@code stopped (process gone)}, ... */
        public String label() {
            return switch (state) {
                case RUNNING, FINISHED -> name();
                case STOPPED -> reason.isEmpty() ? "stopped" : "stopped (" + reason + ")";
                case FAILED -> reason.isEmpty() ? "failed" : "failed: " + reason;
                case GONE -> "stopped (process gone)";
                case CREATED -> reason.isEmpty() ? "created (not started)" : "created (" + reason + ")";
            };
        }
    }

    /** The lock a run holds while it executes; closing releases it. */
    public static final class Lock implements AutoCloseable {
        private final FileChannel channel;
        private final FileLock lock;

        private Lock(FileChannel channel, FileLock lock) {
            this.channel = channel;
            this.lock = lock;
        }

        @Override
        public void close() throws IOException {
            try {
                lock.release();
            } finally {
                channel.close();
            }
        }
    }

    private RunStatus() {
    }

    /**
     * Takes the run's exclusive lock on {@code control/lock}; refuses (exit 2) when another
     * process or another run of this process holds it, i.e. the run is already executing.
     */
    public static Lock lock(Path runDir) throws IOException {
        Path control = Files.createDirectories(runDir.resolve(Run.CONTROL));
        FileChannel channel = FileChannel.open(control.resolve(LOCK_FILE), StandardOpenOption.CREATE,
                StandardOpenOption.WRITE);
        long deadline = System.currentTimeMillis() + LOCK_WAIT_MILLIS;
        try {
            while (true) {
                FileLock held;
                try {
                    held = channel.tryLock();
                } catch (OverlappingFileLockException sameProcess) {
                    held = null;
                }
                if (held != null) {
                    return new Lock(channel, held);
                }
                if (System.currentTimeMillis() > deadline) {
                    throw new ExperimentException(List.of("run-dir: " + runDir + " is being run by another process "
                            + "(it holds " + Run.CONTROL + "/" + LOCK_FILE + "); stop it first with distill stop"));
                }
                // a reader (dashboard, distill:runs) checks the lock for an instant; try again
                Thread.sleep(50);
            }
        } catch (InterruptedException e) {
            channel.close();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while locking " + runDir, e);
        } catch (RuntimeException | IOException e) {
            channel.close();
            throw e;
        }
    }

    /**
     * Records that a run failed: a {@code run-failed} event with the error, and
     * {@code results.json} with the finished stages' results, {@code "status": "failed"} and
     * {@code "reason"}. Never throws: the original failure is what the caller rethrows.
     */
    public static void recordFailure(Path runDir, EventLog events, Throwable failure) {
        String reason = BundleProblems.describe(failure);
        try {
            events.event("run-failed", Map.of("error", reason));
        } catch (RuntimeException e) {
            failure.addSuppressed(e);
        }
        try {
            Map<String, Object> results = new LinkedHashMap<>();
            Path stages = runDir.resolve("stages");
            if (Files.isDirectory(stages)) {
                try (Stream<Path> s = Files.list(stages)) {
                    for (Path stage : s.sorted().toList()) {
                        Path result = stage.resolve("result.json");
                        if (Files.isRegularFile(result)) {
                            results.put(stage.getFileName().toString(), JsonParser.parseString(Files.readString(result)));
                        }
                    }
                }
            }
            results.put("status", "failed");
            results.put("reason", reason);
            AtomicFiles.writeString(runDir.resolve("results.json"), new GsonBuilder().setPrettyPrinting()
                    .serializeSpecialFloatingPointValues().create().toJson(results));
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /** Reads a run directory's status (see the class comment for the rules). */
    public static Status read(Path runDir) {
        if (isLocked(runDir)) {
            return new Status(State.RUNNING, "");
        }
        List<JsonObject> tail = lastEvents(runDir.resolve("events.jsonl"));
        String stopReason = "";
        for (int i = tail.size() - 1; i >= 0; i--) {
            JsonObject e = tail.get(i);
            String type = string(e, "type");
            if (i == tail.size() - 1) {
                switch (type) {
                    case "run-finished":
                        return new Status(State.FINISHED, "");
                    case "run-failed":
                        return new Status(State.FAILED, string(e, "error"));
                    case "run-stopped":
                        break;
                    default:
                        Status failed = failedResults(runDir);
                        if (failed != null) {
                            return failed;
                        }
                        if (!Files.exists(runDir.resolve(Run.CONTROL).resolve(LOCK_FILE))) {
                            return new Status(State.CREATED, "no " + Run.CONTROL + "/" + LOCK_FILE
                                    + ": made by an older version or never executed");
                        }
                        return new Status(State.GONE, "");
                }
                continue;
            }
            if (type.equals("run-started") || type.equals("run-stopped")) {
                break;
            }
            if (type.equals("stop-requested") || type.equals("stopping")) {
                stopReason = string(e, "reason");
                break;
            }
        }
        if (tail.isEmpty()) {
            Status failed = failedResults(runDir);
            return failed != null ? failed : new Status(State.CREATED, "");
        }
        return new Status(State.STOPPED, stopReason);
    }

    /**
     * Whether a live process holds the run's lock. Takes a shared lock for an instant to find
     * out; never creates the lock file.
     */
    public static boolean isLocked(Path runDir) {
        Path file = runDir.resolve(Run.CONTROL).resolve(LOCK_FILE);
        try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
            FileLock probe;
            try {
                probe = channel.tryLock(0, Long.MAX_VALUE, true);
            } catch (OverlappingFileLockException sameProcess) {
                return true;
            }
            if (probe == null) {
                return true;
            }
            probe.release();
            return false;
        } catch (NoSuchFileException e) {
            return false;
        } catch (IOException e) {
            return false;
        }
    }

    private static Status failedResults(Path runDir) {
        Path results = runDir.resolve("results.json");
        if (!Files.isRegularFile(results)) {
            return null;
        }
        try {
            JsonElement e = JsonParser.parseString(Files.readString(results));
            if (e.isJsonObject() && "failed".equals(string(e.getAsJsonObject(), "status"))) {
                return new Status(State.FAILED, string(e.getAsJsonObject(), "reason"));
            }
        } catch (IOException | JsonParseException e) {
            return null;
        }
        return null;
    }

    /** The complete JSON lines among the last {@link #TAIL_BYTES} of the log, oldest first. */
    private static List<JsonObject> lastEvents(Path events) {
        List<JsonObject> out = new ArrayList<>();
        if (!Files.isRegularFile(events)) {
            return out;
        }
        try (RandomAccessFile f = new RandomAccessFile(events.toFile(), "r")) {
            long size = f.length();
            long from = Math.max(0, size - TAIL_BYTES);
            byte[] buf = new byte[(int) (size - from)];
            f.seek(from);
            f.readFully(buf);
            int end = buf.length;
            while (end > 0 && buf[end - 1] != '\n') {
                end--; // a line still being written is not an event yet
            }
            int start = 0;
            if (from > 0) {
                while (start < end && buf[start] != '\n') {
                    start++; // the first line is cut by the window
                }
                start++;
            }
            for (String line : new String(buf, Math.min(start, end), Math.max(0, end - start), StandardCharsets.UTF_8)
                    .split("\n")) {
                if (line.startsWith("{")) {
                    try {
                        out.add(JsonParser.parseString(line).getAsJsonObject());
                    } catch (JsonParseException | IllegalStateException e) {
                        // a damaged line says nothing about the status
                    }
                }
            }
        } catch (IOException e) {
            return out;
        }
        return out;
    }

    private static String string(JsonObject o, String member) {
        JsonElement e = o.get(member);
        return e == null || e.isJsonNull() ? "" : e.isJsonPrimitive() ? e.getAsString() : e.toString();
    }
}
