package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.google.gson.JsonObject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Faults against the real distribution in child processes: kill -9 at random times, a loss bundle
 * that throws mid-run, bundles whose stop hangs or leaks a thread, two runs in one kernel, a
 * corrupt teacher.
 */
class ReliabilityIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    /** A tiny real run: the embedded suite, a one-layer student, SFT, a checkpoint at every step. */
    private Path tinyRun(String name, long steps, String extra) throws IOException {
        Path conf = dist.work.resolve(name + ".conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = %s }
                train {
                  steps = %d
                  batch-size = 2
                  max-length = 32
                  checkpoint-every = 1
                  keep-checkpoints = 2
                  loss = [ { key = kd.sft, weight = 1.0 } ]
                }
                %s
                """.formatted(dist.home.resolve("config/experiments/smoke.conf"), name, steps, extra));
        return conf;
    }

    private static byte[] finalWeights(Path runDir) throws IOException {
        return Files.readAllBytes(runDir.resolve("stages/distill/final/model.safetensors"));
    }

    private static Instant time(JsonObject e) {
        return Instant.parse(e.get("time").getAsString());
    }

    @Test
    void killedWithSigkillAtTwentyRandomTimesEveryResumeEndsBitIdentical() throws Exception {
        Path conf = tinyRun("straight", 10, "");
        Distribution.Result straight = dist.run(300, "run", conf.toString());
        assertEquals(0, straight.exit(), straight.all());
        Path straightDir = Events.runDir(dist.work.resolve("straight"), 1);
        byte[] want = finalWeights(straightDir);
        List<JsonObject> events = Events.read(straightDir);
        // the kills fall anywhere from the first step's end to the run's: steps, checkpoints, the final model
        long trainMillis = time(Events.ofType(events, "run-finished").get(0)).toEpochMilli()
                - time(Events.ofType(events, "step").get(0)).toEpochMilli();
        Random random = new Random(18);
        Map<String, Integer> landed = new LinkedHashMap<>();
        int identical = 0;
        int kills = 0;
        for (int trial = 0; kills < 20; trial++) {
            String name = "killed-" + trial;
            Path trialConf = tinyRun(name, 10, "");
            Process run = dist.start(name, "run", trialConf.toString());
            Path runDir = Events.runDir(dist.work.resolve(name), 180);
            Events.await(run, runDir, 180, e -> Events.lastStep(e) >= 1, "the first step");
            long delay = (long) (random.nextDouble() * trainMillis);
            Thread.sleep(delay);
            if (!run.isAlive()) {
                run.waitFor();
                continue; // finished before the kill: draw again
            }
            run.destroyForcibly(); // SIGKILL: no shutdown hook, no finally
            assertTrue(run.waitFor(30, TimeUnit.SECONDS));
            kills++;
            landed.merge(where(runDir), 1, Integer::sum);
            Distribution.Result resumed = dist.run(300, "resume", runDir.toString());
            assertEquals(0, resumed.exit(), "trial " + trial + ", killed after " + delay + " ms: " + resumed.all());
            if (java.util.Arrays.equals(want, finalWeights(runDir))) {
                identical++;
            }
        }
        System.out.println("kill -9 at 20 random times (run of " + trainMillis + " ms): " + identical
                + " of 20 resumed to bit-identical weights; kills landed " + landed);
        assertEquals(20, identical, "every resumed run ends with the uninterrupted run's weights; kills landed " + landed);
    }

    /** Where a killed run was: between steps, or inside a checkpoint being written or cleaned up. */
    private static String where(Path runDir) throws IOException {
        Path ckpts = runDir.resolve("stages/distill/checkpoints");
        if (!Files.isDirectory(ckpts)) {
            return "before the first checkpoint";
        }
        try (Stream<Path> s = Files.list(ckpts)) {
            List<String> names = s.map(p -> p.getFileName().toString()).toList();
            if (names.stream().anyMatch(n -> n.startsWith(".step-"))) {
                return "writing a checkpoint";
            }
            if (names.stream().anyMatch(n -> n.startsWith(".deleting-") || n.startsWith(".latest"))) {
                return "cleaning up or moving the pointer";
            }
        }
        return Files.isDirectory(runDir.resolve("stages/distill/final")) ? "writing the final model" : "between steps";
    }

    @Test
    void aLossThatThrowsMidRunStopsItWithACheckpointExitThreeNamingBundleAndKey() throws Exception {
        dist.drop(SamplePlugin.throwingCe(dist.home.resolve("lib"), dist.work.resolve("plugins"), 5), "throwing.jar");
        Path conf = tinyRun("throwing", 20, "train.loss = [ { key = sample.throwing-ce, weight = 1.0 } ]\n"
                + "train.checkpoint-every = 0");
        Distribution.Result r = dist.run(300, "run", conf.toString());
        assertEquals(3, r.exit(), r.all());
        assertTrue(r.all().contains("loss term 0 (sample.throwing-ce@org.acme.throwing/1.0.0) failed: "
                + "IllegalStateException: the loss broke on purpose at step 5"), r.all());
        Path runDir = Events.runDir(dist.work.resolve("throwing"), 1);
        assertEquals("step-00000004", Files.readString(runDir.resolve("stages/distill/checkpoints/latest")).trim());
        assertTrue(Files.exists(runDir.resolve("stages/distill/checkpoints/step-00000004/manifest.json")));
        assertTrue(r.out().contains("stopped: " + runDir), r.out());
    }

    /** A Gogo shell fed line by line, its output in a file. */
    private final class Shell implements AutoCloseable {
        final Process process;
        final OutputStream in;
        final Path out;

        Shell(String name) throws IOException {
            out = dist.work.resolve(name + ".out");
            process = dist.builder("shell").redirectOutput(out.toFile()).redirectErrorStream(true).start();
            in = process.getOutputStream();
        }

        void send(String line) throws IOException {
            in.write((line + "\n").getBytes(StandardCharsets.UTF_8));
            in.flush();
        }

        String output() throws IOException {
            return Files.readString(out);
        }

        /** Sends {@code command} every 2 s until the output contains every one of {@code wanted}. */
        String await(String command, long seconds, String... wanted) throws Exception {
            long deadline = System.currentTimeMillis() + seconds * 1000;
            while (true) {
                if (command != null) {
                    send(command);
                }
                Thread.sleep(2000);
                String o = output();
                if (java.util.Arrays.stream(wanted).allMatch(o::contains)) {
                    return o;
                }
                if (System.currentTimeMillis() > deadline || !process.isAlive()) {
                    throw new AssertionError("the shell never showed " + List.of(wanted) + ":\n" + o);
                }
            }
        }

        @Override
        public void close() {
            process.destroyForcibly();
        }
    }

    @Test
    void bundlesWhoseStopHangsOrLeaksAThreadAreReportedAndTheKernelStillStops() throws Exception {
        Path lib = dist.home.resolve("lib");
        dist.drop(SamplePlugin.hangingStop(lib, dist.work.resolve("plugins")), "hang.jar");
        dist.drop(SamplePlugin.leakyThread(lib, dist.work.resolve("plugins")), "leaky.jar");
        try (Shell shell = new Shell("faulty-bundles")) {
            shell.await("lb", 120, "org.acme.hang", "org.acme.leaky");
            // removing the jars uninstalls the bundles, which stops them
            Files.delete(dist.home.resolve("drop-in/leaky.jar"));
            Files.delete(dist.home.resolve("drop-in/hang.jar"));
            String problems = shell.await("distill:problems", 120, "org.acme.leaky at stop", "org.acme.hang at stop");
            assertTrue(problems.contains("thread(s) of version 1.0.0 still running") && problems.contains("'acme-leaky-worker'"),
                    problems);
            assertTrue(problems.contains("has not returned after 5 s") && problems.contains("org.acme.hang.Activator.stop"),
                    problems);
            String list = shell.await("distill:list", 60, "FAILED org.acme.hang at stop", "FAILED org.acme.leaky at stop");
            assertTrue(list.contains("kd.forward-kl"), "the kernel goes on: " + list);
            long t0 = System.nanoTime();
            shell.send("stop 0");
            assertTrue(shell.process.waitFor(60, TimeUnit.SECONDS), "the kernel stops although a bundle's stop hangs "
                    + "and a leaked non-daemon thread runs:\n" + shell.output());
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            System.out.println("kernel stopped " + seconds + " s after stop 0, with a hanging and a leaking bundle");
            assertEquals(0, shell.process.exitValue(), shell.output());
        }
    }

    @Test
    void twoRunsInOneKernelEqualEachRunAloneAndStoppingAThirdDisturbsNeither() throws Exception {
        Path a = tinyRun("a", 12, "experiment.seed = 1");
        Path b = tinyRun("b", 12, "experiment.seed = 2");
        Path c = tinyRun("c", 100000, "experiment.seed = 3");
        byte[] aloneA;
        byte[] aloneB;
        try (Shell shell = new Shell("two-runs")) {
            shell.send("distill:run " + c + " experiment.output-dir=shell-c");
            shell.send("distill:run " + a + " experiment.output-dir=shell-a");
            shell.send("distill:run " + b + " experiment.output-dir=shell-b");
            Path dirC = Events.runDir(dist.work.resolve("shell-c"), 120);
            Path dirA = Events.runDir(dist.work.resolve("shell-a"), 120);
            Path dirB = Events.runDir(dist.work.resolve("shell-b"), 120);
            Events.await(dirA, 120, e -> Events.lastStep(e) >= 3, "3 steps of a");
            Events.await(dirB, 120, e -> Events.lastStep(e) >= 3, "3 steps of b");
            shell.send("distill:stop " + dirC.getFileName());
            Events.await(dirC, 120, e -> !Events.ofType(e, "run-stopped").isEmpty(), "c stopped");
            Events.await(dirA, 300, e -> !Events.ofType(e, "run-finished").isEmpty(), "a finished");
            Events.await(dirB, 300, e -> !Events.ofType(e, "run-finished").isEmpty(), "b finished");
            String runs = shell.await("distill:runs", 60, dirA.getFileName() + "  finished",
                    dirB.getFileName() + "  finished", dirC.getFileName() + "  stopped");
            assertFalse(runs.contains("Exception"), runs);
            assertTrue(Files.exists(dirC.resolve("stages/distill/checkpoints/latest")), "c kept its checkpoint");
            shell.send("stop 0");
            assertTrue(shell.process.waitFor(60, TimeUnit.SECONDS));
            aloneA = null;
            aloneB = null;
            for (String[] run : List.of(new String[] {"a", a.toString()}, new String[] {"b", b.toString()})) {
                Distribution.Result r = dist.run(300, "run", run[1], "--set", "experiment.output-dir=alone-" + run[0]);
                assertEquals(0, r.exit(), r.all());
            }
            aloneA = finalWeights(Events.runDir(dist.work.resolve("alone-a"), 1));
            aloneB = finalWeights(Events.runDir(dist.work.resolve("alone-b"), 1));
            assertFalse(java.util.Arrays.equals(aloneA, aloneB), "two different runs");
            assertArrayEquals(aloneA, finalWeights(dirA), "run a in a shared kernel equals a alone");
            assertArrayEquals(aloneB, finalWeights(dirB), "run b in a shared kernel equals b alone");
            List<JsonObject> stepsA = Events.ofType(Events.read(dirA), "step");
            for (int i = 0; i < stepsA.size(); i++) {
                assertEquals(i + 1, stepsA.get(i).get("step").getAsLong());
            }
        }
    }

    @Test
    void aCorruptTeacherFailsTheRunBeforeItsDirectoryExists() throws Exception {
        Path teacher = dist.work.resolve("corrupt-teacher");
        Files.createDirectories(teacher);
        try (Stream<Path> s = Files.list(dist.home.resolve("config/models/teacher"))) {
            for (Path p : (Iterable<Path>) s::iterator) {
                if (Files.isRegularFile(p)) {
                    Files.copy(p, teacher.resolve(p.getFileName()));
                }
            }
        }
        byte[] w = Files.readAllBytes(teacher.resolve("model.safetensors"));
        Files.write(teacher.resolve("model.safetensors"), java.util.Arrays.copyOf(w, w.length / 2));
        Path conf = tinyRun("corrupt", 5, "teacher.params.model-dir = \"" + teacher + "\"");
        Distribution.Result r = dist.run(120, "run", conf.toString());
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("teacher.params.model-dir: the model folder cannot be loaded")
                && r.err().contains(teacher.resolve("model.safetensors").toString())
                && r.err().contains("truncated"), r.err());
        assertFalse(Files.exists(dist.work.resolve("corrupt")) && Files.list(dist.work.resolve("corrupt")).findAny()
                .isPresent(), "no run directory");
        Path missing = dist.work.resolve("with-missing-include.conf");
        Files.writeString(missing, "include \"fragments/no-such-fragment.conf\"\ninclude file(\"" + conf + "\")\n");
        Distribution.Result v = dist.run(120, "validate", missing.toString(), "--quiet");
        assertTrue(v.err().contains("warning: " + missing + ": include \"fragments/no-such-fragment.conf\" found no file"),
                v.all());
        List<String> lines = new ArrayList<>(List.of(v.err().split("\n")));
        lines.removeIf(l -> !l.startsWith("warning:"));
        assertEquals(1, lines.size(), v.err());
    }
}
