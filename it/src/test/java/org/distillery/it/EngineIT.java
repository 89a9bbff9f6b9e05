package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

import com.google.gson.JsonObject;

import org.junit.jupiter.api.Test;

/**
 * The engine as a user meets it: {@code distill doctor}, the thread policy (environment, experiment,
 * the count a run records and {@code distill resume} uses again), the tensor audit every integration
 * test runs under, and the cuda distribution resolving libtorch from DJL's cache (here the CPU build
 * in a pre-filled cache, offline: this machine has no GPU and no network).
 */
class EngineIT {

    private static JsonObject last(Path runDir, String type) throws IOException {
        List<JsonObject> es = Events.ofType(Events.read(runDir), type);
        assertTrue(!es.isEmpty(), "no " + type + " event in " + runDir);
        return es.get(es.size() - 1);
    }

    @Test
    void doctorSaysWhatTheEngineIsWhereItCameFromAndWhy() throws Exception {
        try (Distribution dist = Distribution.copy()) {
            dist.env.put("DISTILL_THREADS", "1");
            Distribution.Result r = dist.run(120, "doctor");
            assertEquals(0, r.exit(), r.all());
            assertTrue(r.out().contains("engine    PyTorch 2.7.1 (DJL 0.36.0, libtorch cpu)"), r.out());
            assertTrue(r.out().contains("(bundled: the cpu build from the pytorch-native jar in lib/)"), r.out());
            assertTrue(r.out().contains("gpu       not used: the libtorch in use is the cpu build without CUDA"), r.out());
            assertTrue(r.out().contains("threads   intra-op 1, inter-op 1 (DISTILL_THREADS=1)"), r.out());
            assertTrue(r.out().contains("audit     strict: "), r.out());
            dist.env.put("DISTILL_THREADS", "zero");
            Distribution.Result bad = dist.run(120, "doctor");
            assertEquals(2, bad.exit(), bad.all());
            assertTrue(bad.err().contains("DISTILL_THREADS: expected auto or a positive whole number of threads "
                    + "(got \"zero\")"), bad.all());
            dist.env.remove("DISTILL_THREADS");
            Distribution.Result exp = dist.run(120, "doctor", "smoke", "--set", "experiment.threads=3");
            assertEquals(0, exp.exit(), exp.all());
            assertTrue(exp.out().contains("threads   intra-op 3, inter-op 1 (experiment.threads = 3)"), exp.out());
        }
    }

    @Test
    void aRunRecordsItsThreadsAndResumeUsesThemUnderTheStrictTensorAudit() throws Exception {
        try (Distribution dist = Distribution.copy()) {
            dist.env.put("DISTILL_THREADS", "1");
            Distribution.Result r = dist.run(600, "run", "smoke", "--set", "experiment.progress=lines");
            assertEquals(0, r.exit(), r.all());
            Path runDir = Events.runDir(dist.work.resolve("runs"), 5);
            assertTrue(Files.readString(runDir.resolve("config.conf")).matches("(?s).*\\bthreads\\s*=\\s*1\\b.*"),
                    Files.readString(runDir.resolve("config.conf")));
            JsonObject started = last(runDir, "run-started");
            assertEquals(1, started.getAsJsonObject("threads").get("intra_op").getAsInt(), started.toString());
            assertEquals(1, started.getAsJsonObject("threads").get("inter_op").getAsInt(), started.toString());
            assertEquals("DISTILL_THREADS=1", started.getAsJsonObject("threads").get("source").getAsString());
            assertTrue(started.getAsJsonObject("engine_info").get("bundled").getAsBoolean(), started.toString());
            JsonObject finished = last(runDir, "run-finished");
            assertEquals(0, finished.get("tensor_audit_violations").getAsLong(), finished.toString());
            assertTrue(finished.get("tensor_audit").getAsString().matches("strict: [1-9][0-9]* arrays in .*"),
                    "the audit watched the run's arrays: " + finished);

            // another count in the environment: the run goes on with the one it recorded
            dist.env.put("DISTILL_THREADS", "2");
            Distribution.Result resumed = dist.run(600, "resume", runDir.toString());
            assertEquals(0, resumed.exit(), resumed.all());
            JsonObject again = last(runDir, "run-started");
            assertEquals(1, again.getAsJsonObject("threads").get("intra_op").getAsInt(), again.toString());
            assertTrue(again.getAsJsonObject("threads").get("source").getAsString().contains("recorded by the run"),
                    again.toString());

            // the experiment's setting wins over the environment, and is what config.conf records
            Distribution.Result two = dist.run(600, "run", "smoke", "--set", "experiment.threads=2", "--set",
                    "experiment.output-dir=runs-two", "--set", "train.steps=2");
            assertEquals(0, two.exit(), two.all());
            Path twoDir = Events.runDir(dist.work.resolve("runs-two"), 5);
            assertEquals("experiment.threads = 2",
                    last(twoDir, "run-started").getAsJsonObject("threads").get("source").getAsString());
        }
    }

    @Test
    void theCudaDistributionResolvesLibtorchFromDjlsCacheAndSaysSo() throws Exception {
        Path cuda = Path.of(System.getProperty("distill.dist.cuda", "../distributions/cuda/target/distill-cuda"));
        try (Distribution dist = Distribution.copy(cuda)) {
            try (Stream<Path> lib = Files.list(dist.home.resolve("lib"))) {
                assertTrue(lib.noneMatch(p -> p.getFileName().toString().startsWith("pytorch-native")),
                        "no bundled libtorch in the cuda distribution");
            }
            Path cache = Files.createDirectories(dist.work.resolve("djl-cache"));
            dist.env.put("ENGINE_CACHE_DIR", cache.toString());
            dist.env.put("DISTILL_OFFLINE", "true");
            dist.env.put("DISTILL_THREADS", "1");
            // an empty cache, downloads off: a clear failure
            Distribution.Result empty = dist.run(120, "doctor");
            assertEquals(1, empty.exit(), empty.all());
            assertTrue(empty.err().contains("libtorch could not be resolved into DJL's cache " + cache.resolve("pytorch")),
                    empty.all());
            assertTrue(empty.err().contains("start it once with network access"), empty.all());

            // the cache as DJL's download leaves it, filled here with the CPU build (no GPU on this machine)
            prefill(cache.resolve("pytorch").resolve(System.getProperty("pytorch.version", "2.7.1")
                    + "-cpu-linux-x86_64"));
            Distribution.Result doctor = dist.run(120, "doctor");
            assertEquals(0, doctor.exit(), doctor.all());
            assertTrue(doctor.out().contains("(resolved by DJL into its cache " + cache), doctor.out());
            assertTrue(doctor.out().contains("libtorch cpu"), doctor.out());
            assertTrue(doctor.out().contains("offline   ai.djl.offline=true"), doctor.out());

            Distribution.Result run = dist.run(600, "run", "smoke", "--set", "train.steps=2");
            assertEquals(0, run.exit(), run.all());
            JsonObject info = last(Events.runDir(dist.work.resolve("runs"), 5), "run-started")
                    .getAsJsonObject("engine_info");
            assertTrue(!info.get("bundled").getAsBoolean(), info.toString());
            assertTrue(info.get("native_library").getAsString().startsWith(cache.toString()), info.toString());
        }
    }

    /** The benchmarks of this work run in the distribution and print their tables (figures are not asserted). */
    @Test
    void kernelThreadsAndCacheBenchmarksPrintTheirTables() throws Exception {
        try (Distribution dist = Distribution.copy()) {
            dist.env.put("DISTILL_THREADS", "1");
            Distribution.Result kernel = dist.run(900, "bench", "kernel", "--runs", "1", "--swaps", "2");
            assertEquals(0, kernel.exit(), kernel.all());
            assertTrue(kernel.out().matches("(?s).*parallel / serial ready with \\d+ bundles: [0-9.]+x.*"), kernel.out());
            assertTrue(kernel.out().matches("(?s).*org\\.distillery\\.kd-core\\s+[0-9.]+\\s+[0-9.]+\\s+\\d+.*"),
                    "the per-bundle costs: " + kernel.out());
            assertTrue(kernel.out().contains("org.distillery.train.TrainModule"), "built-in modules are costed too");
            assertTrue(kernel.out().contains("hot swap (bundle update -> new kd.forward-kl in registry), 2 updates"),
                    kernel.out());

            Distribution.Result threads = dist.run(900, "bench", "threads", "--steps", "1", "--rounds", "1");
            assertEquals(0, threads.exit(), threads.all());
            assertTrue(threads.out().matches("(?s).*\\n  1 +[0-9.]+ +[0-9.]+ +[0-9.]+x\\n.*"), threads.out());

            Distribution.Result cache = dist.run(900, "bench", "cache", "--records", "20", "--repeats", "1");
            assertEquals(0, cache.exit(), cache.all());
            assertTrue(cache.out().matches("(?s).*\\nq8 +2 .*\\nq4 +2 .*"), cache.out());
            assertTrue(cache.out().contains("goal (<= 2) for q8: met, for q4: met"), cache.out());
        }
    }

    /** Extracts the CPU libtorch of the standard distribution's native jar into {@code dir}. */
    private static void prefill(Path dir) throws IOException {
        Path standardLib = Path.of(System.getProperty("distill.dist", "../distributions/standard/target/distill-standard"))
                .resolve("lib");
        Path jar;
        try (Stream<Path> s = Files.list(standardLib)) {
            jar = s.filter(p -> p.getFileName().toString().startsWith("pytorch-native-cpu")).findFirst().orElseThrow();
        }
        Files.createDirectories(dir);
        try (JarFile j = new JarFile(jar.toFile())) {
            for (JarEntry e : java.util.Collections.list(j.entries())) {
                String name = e.getName();
                if (!e.isDirectory() && name.startsWith("pytorch/cpu/linux-x86_64/")) {
                    try (InputStream in = j.getInputStream(e)) {
                        Files.copy(in, dir.resolve(name.substring(name.lastIndexOf('/') + 1)),
                                StandardCopyOption.REPLACE_EXISTING);
                    }
                }
            }
        }
    }
}
