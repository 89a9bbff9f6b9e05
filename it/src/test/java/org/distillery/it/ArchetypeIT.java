package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.google.gson.JsonObject;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The bundle author's path end to end, outside this repository: {@code mvn archetype:generate}
 * creates a bundle project from {@code distillery-bundle-archetype}, Maven builds it offline (its
 * golden test included), the jar is dropped into a running distribution and its loss takes over a
 * running job through {@code distill swap}.
 */
class ArchetypeIT {

    private static final String KEY = "acme.logit-mse";

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    /** The Maven that runs this build (maven.home, set by surefire from the parent pom), else mvn on the PATH. */
    private static String maven() {
        String home = System.getProperty("maven.home");
        if (home != null && Files.isExecutable(Path.of(home, "bin", "mvn"))) {
            return Path.of(home, "bin", "mvn").toString();
        }
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            if (Files.isExecutable(Path.of(dir, "mvn"))) {
                return Path.of(dir, "mvn").toString();
            }
        }
        throw new AssertionError("this test runs Maven to build a generated bundle, and found none "
                + "(no maven.home system property, no mvn on the PATH)");
    }

    private static String mavenRun(Path dir, String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(maven(), "-B", "-o"));
        String repo = System.getProperty("maven.repo.local");
        if (repo != null && !repo.isBlank()) {
            cmd.add("-Dmaven.repo.local=" + repo);
        }
        cmd.addAll(List.of(args));
        Path log = Files.createTempFile("mvn", ".log");
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true)
                .redirectOutput(log.toFile()).start();
        boolean done = p.waitFor(600, TimeUnit.SECONDS);
        String out = Files.readString(log);
        if (!done) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish in 600 s:\n" + out);
        }
        assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        return out;
    }

    @Test
    void generatedBundleBuildsOfflineAndItsLossIsSwappedIntoARunningJob() throws Exception {
        Path projects = Files.createDirectories(dist.work.resolve("projects"));
        String version = System.getProperty("distill.version", "0.1.0-SNAPSHOT");
        String plugin = "org.apache.maven.plugins:maven-archetype-plugin:"
                + System.getProperty("archetype.version", "3.3.1") + ":generate";
        mavenRun(projects, plugin, "-DinteractiveMode=false",
                "-DarchetypeGroupId=org.distillery", "-DarchetypeArtifactId=distillery-bundle-archetype",
                "-DarchetypeVersion=" + version, "-DgroupId=org.acme", "-DartifactId=acme-mse",
                "-Dversion=1.0.0", "-Dpackage=org.acme.mse", "-DlossKey=" + KEY, "-DdistilleryVersion=" + version);
        Path project = projects.resolve("acme-mse");
        assertTrue(Files.isRegularFile(project.resolve("src/main/java/org/acme/mse/internal/LogitMseLoss.java")));
        String build = mavenRun(project, "package");
        assertTrue(build.contains("Tests run: 4, Failures: 0, Errors: 0"), "the generated golden test runs:\n" + build);
        Path jar;
        try (Stream<Path> s = Files.list(project.resolve("target"))) {
            jar = s.filter(p -> p.getFileName().toString().matches("acme-mse-1\\.0\\.0\\.jar")).findFirst()
                    .orElseThrow(() -> new AssertionError("no acme-mse-1.0.0.jar in " + project.resolve("target")));
        }

        Path conf = dist.work.resolve("long.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines }
                train { steps = 100000, batch-size = 2, max-length = 48, loss = [ { key = kd.forward-kl } ] }
                """.formatted(dist.home.resolve("config/experiments/smoke.conf")));
        Process run = dist.start("run", "run", conf.toString());
        try {
            Path runDir = Events.runDir(dist.work.resolve("runs"), 120);
            Events.await(run, runDir, 120, e -> Events.lastStep(e) >= 3, "3 steps");
            dist.drop(jar, "acme-mse.jar");
            long deadline = System.currentTimeMillis() + 60_000;
            Distribution.Result swap;
            do {
                swap = dist.run(60, "swap", runDir.toString(), KEY, "--params", "center = false");
            } while (swap.exit() != 0 && System.currentTimeMillis() < deadline);
            assertEquals(0, swap.exit(), swap.all());
            List<JsonObject> events = Events.await(run, runDir, 60,
                    e -> Events.stepsAfterFirst(e, "loss-swap") >= 3, "the swap and 3 more steps");
            JsonObject s = Events.ofType(events, "loss-swap").get(0);
            assertEquals(KEY + "@org.acme.acme-mse/1.0.0", s.get("new").getAsString(), s.toString());
            List<JsonObject> steps = Events.ofType(events, "step");
            JsonObject last = steps.get(steps.size() - 1);
            double value = last.getAsJsonObject("terms").get("0:" + KEY).getAsDouble();
            assertTrue(Double.isFinite(value) && value > 0, "the generated loss gives a positive value: " + last);
            assertEquals(0, dist.run(30, "stop", runDir.toString()).exit());
            assertTrue(run.waitFor(120, TimeUnit.SECONDS), "run stops");
            assertEquals(3, run.exitValue(), dist.output("run"));
        } finally {
            run.destroyForcibly();
        }
    }
}
