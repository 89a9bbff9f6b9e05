package org.distillery.it;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import java.util.stream.Stream;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

/** Reads a run's {@code events.jsonl} and waits for conditions on it. */
final class Events {

    private Events() {
    }

    /** The single run directory under {@code runsDir}, waiting up to {@code seconds} for it. */
    static Path runDir(Path runsDir, long seconds) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + seconds * 1000;
        while (System.currentTimeMillis() < deadline) {
            if (Files.isDirectory(runsDir)) {
                try (Stream<Path> s = Files.list(runsDir)) {
                    // other folders may sit beside the runs (a remote teacher's cache): only a run has events
                    List<Path> dirs = s.filter(p -> !p.getFileName().toString().startsWith("."))
                            .filter(p -> Files.exists(p.resolve("events.jsonl"))).sorted().toList();
                    if (!dirs.isEmpty()) {
                        return dirs.get(0);
                    }
                }
            }
            Thread.sleep(100);
        }
        throw new AssertionError("no run directory appeared in " + runsDir);
    }

    static List<JsonObject> read(Path runDir) throws IOException {
        List<JsonObject> out = new ArrayList<>();
        Path f = runDir.resolve("events.jsonl");
        if (!Files.exists(f)) {
            return out;
        }
        for (String line : Files.readAllLines(f)) {
            if (line.endsWith("}")) {
                out.add(JsonParser.parseString(line).getAsJsonObject());
            }
        }
        return out;
    }

    static List<JsonObject> ofType(List<JsonObject> events, String type) {
        return events.stream().filter(e -> e.get("type").getAsString().equals(type)).toList();
    }

    /** Waits until the log satisfies {@code condition}; fails with the log's tail after {@code seconds}. */
    static List<JsonObject> await(Path runDir, long seconds, Predicate<List<JsonObject>> condition, String what)
            throws IOException, InterruptedException {
        return await(null, runDir, seconds, condition, what);
    }

    /** Like {@link #await(Path, long, Predicate, String)}, failing at once if {@code process} has ended. */
    static List<JsonObject> await(Process process, Path runDir, long seconds, Predicate<List<JsonObject>> condition,
                                  String what) throws IOException, InterruptedException {
        long deadline = System.currentTimeMillis() + seconds * 1000;
        List<JsonObject> events = read(runDir);
        while (!condition.test(events)) {
            if (process != null && !process.isAlive()) {
                throw new AssertionError("the run ended (exit " + process.exitValue() + ") before " + what
                        + "; last events: " + events.subList(Math.max(0, events.size() - 5), events.size()));
            }
            if (System.currentTimeMillis() > deadline) {
                int from = Math.max(0, events.size() - 5);
                throw new AssertionError("timed out waiting for " + what + "; last events: " + events.subList(from,
                        events.size()));
            }
            Thread.sleep(100);
            events = read(runDir);
        }
        return events;
    }

    /** Step records after the first event of {@code type}, or -1 if there is none. */
    static int stepsAfterFirst(List<JsonObject> events, String type) {
        int steps = -1;
        for (JsonObject e : events) {
            String t = e.get("type").getAsString();
            if (steps < 0 && t.equals(type)) {
                steps = 0;
            } else if (steps >= 0 && t.equals("step")) {
                steps++;
            }
        }
        return steps;
    }

    static long lastStep(List<JsonObject> events) {
        List<JsonObject> steps = ofType(events, "step");
        return steps.isEmpty() ? 0 : steps.get(steps.size() - 1).get("step").getAsLong();
    }
}
