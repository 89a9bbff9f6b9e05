package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import com.google.gson.JsonObject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Boots the real standard distribution in child processes: listing, drop-in, hot swap, failures. */
class KernelIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    /** A long run of the smoke experiment with the given loss list, stopped by the test. */
    private Path longRunConfig(String loss) throws Exception {
        Path conf = dist.work.resolve("long.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines }
                train {
                  steps = 100000
                  batch-size = 2
                  max-length = 48
                  hot-swap-wait = 3s
                  loss = %s
                }
                """.formatted(dist.home.resolve("config/experiments/smoke.conf"), loss));
        return conf;
    }

    @Test
    void listShowsContributionsWithTheirBundles() throws Exception {
        Distribution.Result r = dist.run(120, "list");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().matches("(?s).*kd\\.forward-kl\\s+org\\.distillery\\.kd-core\\s+0\\.1\\.0.*"), r.out());
        assertTrue(r.out().matches("(?s).*train\\.kd\\s+distillery-kernel.*"), r.out());
        assertTrue(r.out().contains("ACTIVE     org.distillery.kd-core"), r.out());
        Distribution.Result losses = dist.run(120, "list", "losses");
        assertEquals(0, losses.exit(), losses.all());
        assertTrue(losses.out().contains("kd.reverse-kl"));
        assertFalse(losses.out().contains("BUNDLES"));
    }

    @Test
    void shellOffersDistillCommandsBesideTheStandardOnes() throws Exception {
        Path script = dist.work.resolve("shell.txt");
        Files.writeString(script, "lb\ndistill:list losses\ndistill:runs\ndistill:swap nope kd.jsd\nstop 0\n");
        Process shell = dist.builder("shell").redirectInput(script.toFile())
                .redirectOutput(dist.work.resolve("shell.out").toFile())
                .redirectError(dist.work.resolve("shell.err").toFile()).start();
        assertTrue(shell.waitFor(120, TimeUnit.SECONDS), "shell ends on stop 0");
        String out = dist.output("shell");
        assertEquals(0, shell.exitValue(), out);
        assertTrue(out.contains("Distillery kd-core"), out);
        assertTrue(out.contains("kd.forward-kl"), out);
        assertTrue(out.contains("no run nope in this kernel"), out);
    }

    @Test
    void bundleThatThrowsOnStartIsReportedAndEverythingElseWorks() throws Exception {
        dist.drop(SamplePlugin.throwingActivator(dist.home.resolve("lib"), dist.work.resolve("plugins")), "broken.jar");
        dist.drop(SamplePlugin.scaledCe(dist.home.resolve("lib"), dist.work.resolve("plugins"), 1), "sample.jar");
        Distribution.Result r = dist.run(120, "list");
        assertEquals(0, r.exit(), r.all());
        assertTrue(r.out().contains("FAILED org.acme.broken"), r.out());
        assertTrue(r.out().contains("broken on purpose"), r.out());
        assertTrue(r.all().contains("bundle org.acme.broken failed at start"), r.all());
        assertTrue(r.out().contains("sample.scaled-ce"), r.out());
        assertTrue(r.out().contains("kd.forward-kl"), r.out());
    }

    @Test
    void droppedPluginIsUsableWithoutRestartThroughSwap() throws Exception {
        Path conf = longRunConfig("[ { key = kd.forward-kl, weight = 1.0 } ]");
        Process run = dist.start("run", "run", conf.toString());
        try {
            Path runDir = Events.runDir(dist.work.resolve("runs"), 120);
            Events.await(run, runDir, 120, e -> Events.lastStep(e) >= 3, "3 steps");
            dist.drop(SamplePlugin.scaledCe(dist.home.resolve("lib"), dist.work.resolve("plugins"), 1), "sample.jar");
            Distribution.Result unknown = dist.run(60, "swap", runDir.toString(), "sample.no-such-loss");
            assertEquals(2, unknown.exit(), unknown.all());
            assertTrue(unknown.err().contains("no registered loss 'sample.no-such-loss'"), unknown.all());
            long deadline = System.currentTimeMillis() + 60_000;
            Distribution.Result swap;
            do {
                swap = dist.run(60, "swap", runDir.toString(), "sample.scaled-ce");
            } while (swap.exit() != 0 && System.currentTimeMillis() < deadline);
            assertEquals(0, swap.exit(), swap.all());
            List<JsonObject> events = Events.await(run, runDir, 60,
                    e -> Events.stepsAfterFirst(e, "loss-swap") >= 3, "swap and 3 more steps");
            JsonObject s = Events.ofType(events, "loss-swap").get(0);
            assertTrue(s.get("old").getAsString().startsWith("kd.forward-kl@org.distillery.kd-core/"), s.toString());
            assertEquals("sample.scaled-ce@org.acme.sample/1.0.0", s.get("new").getAsString());
            JsonObject after = Events.ofType(events, "step").get(Events.ofType(events, "step").size() - 1);
            assertTrue(after.getAsJsonObject("terms").has("0:sample.scaled-ce"), after.toString());
            assertEquals(0, dist.run(30, "stop", runDir.toString()).exit());
            assertTrue(run.waitFor(120, TimeUnit.SECONDS), "run stops");
            assertEquals(3, run.exitValue(), dist.output("run"));
            assertTrue(Files.exists(runDir.resolve("stages/distill/checkpoints/latest")));
        } finally {
            run.destroyForcibly();
        }
    }

    @Test
    void secondVersionReplacesTheFirstMidRunThenVanishingStopsCleanly() throws Exception {
        Path lib = dist.home.resolve("lib");
        dist.drop(SamplePlugin.scaledCe(lib, dist.work.resolve("v1"), 1), "sample.jar");
        Path v2 = SamplePlugin.scaledCe(lib, dist.work.resolve("v2"), 2);
        // kd.sft beside it (weight 0: it only measures) is the same cross-entropy without the scale
        Path conf = longRunConfig("[ { key = sample.scaled-ce, weight = 1.0 }, { key = kd.sft, weight = 0.0 } ]");
        Process run = dist.start("run", "run", conf.toString());
        try {
            Path runDir = Events.runDir(dist.work.resolve("runs"), 120);
            Events.await(run, runDir, 120, e -> Events.lastStep(e) >= 6, "6 steps");
            dist.drop(v2, "sample.jar");
            List<JsonObject> events = Events.await(run, runDir, 60,
                    e -> Events.stepsAfterFirst(e, "loss-swap") >= 6,
                    "a swap to v2 and more steps");
            JsonObject swap = Events.ofType(events, "loss-swap").get(0);
            assertEquals("sample.scaled-ce@org.acme.sample/1.0.0", swap.get("old").getAsString());
            assertEquals("sample.scaled-ce@org.acme.sample/2.0.0", swap.get("new").getAsString());
            List<JsonObject> steps = Events.ofType(events, "step");
            for (int i = 0; i < steps.size(); i++) {
                assertEquals(i + 1, steps.get(i).get("step").getAsLong(), "steps are contiguous");
                assertFalse(steps.get(i).has("skipped"), steps.get(i).toString());
            }
            // v2 doubles the term: its median after the swap is about twice the one before, and exactly twice
            // the unscaled cross-entropy of the same batches (1x before)
            long swappedAfter = 0;
            for (JsonObject e : events) {
                if (e == swap) {
                    break;
                }
                swappedAfter = e.get("type").getAsString().equals("step") ? e.get("step").getAsLong() : swappedAfter;
            }
            long lastBefore = swappedAfter;
            List<JsonObject> before = steps.stream().filter(e -> e.get("step").getAsLong() <= lastBefore).toList();
            List<JsonObject> after = steps.stream().filter(e -> e.get("step").getAsLong() > lastBefore).toList();
            double medianBefore = median(before, "0:sample.scaled-ce");
            double medianAfter = median(after, "0:sample.scaled-ce");
            assertTrue(medianAfter / medianBefore > 1.6 && medianAfter / medianBefore < 2.4,
                    "term median " + medianBefore + " before the swap, " + medianAfter + " after");
            assertEquals(1.0, medianRatio(before), 1e-3, "v1 scales by 1");
            assertEquals(2.0, medianRatio(after), 2e-3, "v2 scales by 2");
            Files.delete(dist.home.resolve("drop-in/sample.jar"));
            assertTrue(run.waitFor(120, TimeUnit.SECONDS), "run stops after the loss vanished");
            assertEquals(3, run.exitValue(), dist.output("run"));
            events = Events.read(runDir);
            assertFalse(Events.ofType(events, "loss-missing").isEmpty());
            assertTrue(Events.ofType(events, "stopping").get(0).get("reason").getAsString().contains("vanished"));
            String latest = Files.readString(runDir.resolve("stages/distill/checkpoints/latest")).trim();
            assertTrue(Files.exists(runDir.resolve("stages/distill/checkpoints").resolve(latest).resolve("state.json")));
        } finally {
            run.destroyForcibly();
        }
    }

    @Test
    void runKilledWithSigkillResumesToTheSameWeights() throws Exception {
        String[] common = {"--set", "train.steps=30", "--set", "train.checkpoint-every=5", "--set", "train.batch-size=2",
            "--set", "experiment.progress=lines"};
        Distribution.Result straight = dist.run(300, concat(new String[] {"run", "smoke", "--set",
            "experiment.output-dir=straight"}, common));
        assertEquals(0, straight.exit(), straight.all());
        Path straightDir = Events.runDir(dist.work.resolve("straight"), 1);

        Process run = dist.start("killed", concat(new String[] {"run", "smoke", "--set",
            "experiment.output-dir=killed"}, common));
        Path killedDir = Events.runDir(dist.work.resolve("killed"), 120);
        Events.await(run, killedDir, 240, e -> Events.lastStep(e) >= 12, "12 steps");
        run.destroyForcibly();
        assertTrue(run.waitFor(30, TimeUnit.SECONDS));
        assertTrue(Events.lastStep(Events.read(killedDir)) < 30, "killed before the end");

        Distribution.Result resumed = dist.run(300, "resume", killedDir.toString());
        assertEquals(0, resumed.exit(), resumed.all());
        assertTrue(!Events.ofType(Events.read(killedDir), "resumed").isEmpty());
        byte[] a = Files.readAllBytes(straightDir.resolve("stages/distill/final/model.safetensors"));
        byte[] b = Files.readAllBytes(killedDir.resolve("stages/distill/final/model.safetensors"));
        assertTrue(java.util.Arrays.equals(a, b), "resumed weights equal the uninterrupted run's");
    }

    private static double median(List<JsonObject> steps, String term) {
        double[] v = steps.stream().mapToDouble(e -> e.getAsJsonObject("terms").get(term).getAsDouble()).sorted()
                .toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    /** Median over steps of the scaled term over the plain cross-entropy of the same step. */
    private static double medianRatio(List<JsonObject> steps) {
        double[] v = steps.stream().mapToDouble(e -> e.getAsJsonObject("terms").get("0:sample.scaled-ce").getAsDouble()
                / e.getAsJsonObject("terms").get("1:kd.sft").getAsDouble()).sorted().toArray();
        return v[v.length / 2];
    }

    private static String[] concat(String[] a, String[] b) {
        String[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
