package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.lang.reflect.Method;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The Spark distribution end to end: the shaded job jar under Spark's own {@code SparkSubmit}
 * ({@code --master local[2]}, libtorch on {@code spark.jars}) writes the cache
 * {@code distill teacher cache} writes; {@code distill spark} (the standard launcher's child JVM)
 * generates a dataset and caches the teacher on it, and a training run consumes both; a malformed
 * line exits with 2 naming the line, with no output left.
 */
class SparkIT {

    private Distribution dist;
    private Path spark;
    private Path data;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
        spark = Path.of(System.getProperty("distill.spark", "../distributions/spark/target/distill-spark/spark"))
                .toAbsolutePath().normalize();
        assertTrue(Files.isRegularFile(spark.resolve("jobs/distillery-spark-job.jar")), "no Spark distribution at " + spark);
        data = dist.work.resolve("suite-40.jsonl");
        Files.write(data, Files.readAllLines(dist.home.resolve("config/data/suite/train.jsonl")).stream()
                .filter(l -> !l.isBlank()).limit(40).toList());
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    private Distribution.Result distillSpark(long timeoutSeconds, String... args) throws Exception {
        List<String> a = new ArrayList<>(List.of("spark"));
        a.addAll(List.of(args));
        ProcessBuilder pb = dist.builder(a.toArray(String[]::new));
        pb.environment().put("DISTILL_SPARK_HOME", spark.toString());
        pb.environment().put("DISTILL_SPARK_JAVA_OPTS", "-Xmx2g");
        return finish(pb, timeoutSeconds, String.join(" ", a));
    }

    private Distribution.Result finish(ProcessBuilder pb, long timeoutSeconds, String what) throws Exception {
        Path out = Files.createTempFile(dist.work, "out", ".txt");
        Path err = Files.createTempFile(dist.work, "err", ".txt");
        Process p = pb.redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
            p.destroyForcibly().waitFor();
            throw new AssertionError(what + " did not finish in " + timeoutSeconds + " s: " + Files.readString(err));
        }
        return new Distribution.Result(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                Files.readString(err, StandardCharsets.UTF_8));
    }

    @Test
    void sparkSubmitRunsTheShadedJobJarAndWritesTheCacheDistillTeacherCacheWrites() throws Exception {
        Path teacher = dist.home.resolve("config/models/teacher");
        Path reference = dist.work.resolve("reference.bin");
        Distribution.Result r = dist.run(300, "teacher", "cache", teacher.toString(), "--data", data.toString(), "--out",
                reference.toString());
        assertEquals(0, r.exit(), r.all());

        Path nativeJar;
        try (Stream<Path> s = Files.list(spark.resolve("native"))) {
            nativeJar = s.filter(p -> p.getFileName().toString().startsWith("pytorch-native")).findFirst().orElseThrow();
        }
        Path launcher;
        try (Stream<Path> s = Files.list(spark.resolve("lib"))) {
            launcher = s.filter(p -> p.getFileName().toString().startsWith("spark-launcher_")).findFirst().orElseThrow();
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(moduleOptions(launcher));
        cmd.addAll(List.of("-Xmx2g", "-Dai.djl.offline=true", "-Dai.djl.pytorch.num_threads=1",
                "-Dlog4j2.configurationFile=" + spark.resolve("conf/log4j2.properties").toUri(),
                "-cp", spark.resolve("lib").resolve("*").toString(), "org.apache.spark.deploy.SparkSubmit",
                "--master", "local[2]",
                "--class", "org.distillery.spark.SparkJobs",
                "--jars", nativeJar.toString(),
                "--conf", "spark.ui.enabled=false",
                "--conf", "spark.driver.host=127.0.0.1",
                "--conf", "spark.driver.bindAddress=127.0.0.1",
                spark.resolve("jobs/distillery-spark-job.jar").toString(),
                "cache", "--in", data.toString(), "--out", dist.work.resolve("submitted.bin").toString(),
                "--teacher", teacher.toString(), "--partitions", "3"));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(dist.work.toFile());
        pb.environment().put("SPARK_LOCAL_IP", "127.0.0.1");
        Distribution.Result s = finish(pb, 600, "spark-submit");
        assertEquals(0, s.exit(), s.all());
        assertTrue(s.out().contains("teacher cache written to"), s.all());
        assertArrayEquals(Files.readAllBytes(reference), Files.readAllBytes(dist.work.resolve("submitted.bin")));
    }

    private static List<String> moduleOptions(Path launcherJar) throws Exception {
        try (URLClassLoader loader = new URLClassLoader(new URL[] {launcherJar.toUri().toURL()},
                ClassLoader.getPlatformClassLoader())) {
            Method m = loader.loadClass("org.apache.spark.launcher.JavaModuleOptions").getMethod("defaultModuleOptionArray");
            return List.of((String[]) m.invoke(null));
        }
    }

    @Test
    void aStudentTrainsOnASparkGeneratedDatasetWithASparkMadeCache() throws Exception {
        Path teacher = dist.home.resolve("config/models/teacher");
        Path generated = dist.work.resolve("generated.jsonl");
        Distribution.Result g = distillSpark(600, "generate", "--in", data.toString(), "--out", generated.toString(),
                "--teacher", teacher.toString(), "--max-new-tokens", "32", "--master", "local[2]", "--progress-every", "1");
        assertEquals(0, g.exit(), g.all());
        assertTrue(g.out().contains("generated 40 responses for 40 records"), g.all());
        assertTrue(g.err().contains("[generate] 40/40 records"), g.all());
        List<String> lines = Files.readAllLines(generated);
        assertEquals(40, lines.size());
        JsonObject first = JsonParser.parseString(lines.get(0)).getAsJsonObject();
        assertEquals("teacher", first.getAsJsonObject("meta").get("teacher").getAsString());

        Path cache = dist.work.resolve("generated.cache");
        Distribution.Result c = distillSpark(600, "cache", "--in", generated.toString(), "--out", cache.toString(),
                "--teacher", teacher.toString(), "--master", "local[2]");
        assertEquals(0, c.exit(), c.all());
        assertTrue(c.out().contains("40 distinct sequences"), c.all());

        Path conf = dist.work.resolve("spark-made.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { name = spark-made, progress = lines, output-dir = spark-made }
                data.train-file = "%s"
                train.steps = 6
                tokenizer.dir = "%s"
                teacher = null
                teacher { key = teacher.cached, params { file = "%s", verify-teacher-dir = "%s" } }
                student {
                  inherit-teacher-config = false
                  config { model_type = gpt2, vocab_size = 259, n_embd = 32, n_layer = 1, n_head = 4, n_positions = 256,
                           bos_token_id = 257, eos_token_id = 258 }
                }
                """.formatted(dist.home.resolve("config/experiments/smoke.conf"), generated, teacher, cache, teacher));
        Distribution.Result r = dist.run(300, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("spark-made"), 1);
        List<JsonObject> events = Events.read(runDir);
        JsonObject cacheEvent = Events.ofType(events, "teacher-cache").get(0);
        assertEquals(cache.toString(), cacheEvent.get("file").getAsString());
        assertEquals(40, cacheEvent.get("sequences").getAsInt());
        List<JsonObject> steps = Events.ofType(events, "step");
        assertEquals(6, steps.size());
        for (JsonObject s : steps) {
            assertTrue(Double.isFinite(s.getAsJsonObject("terms").get("0:kd.forward-kl").getAsDouble()), s.toString());
        }
    }

    @Test
    void aMalformedLineExitsWithTwoNamingFileAndLineAndLeavesNoOutput() throws Exception {
        List<String> lines = Files.readAllLines(data);
        Path bad = dist.work.resolve("bad.jsonl");
        Files.write(bad, List.of(lines.get(0), lines.get(1), "{\"prompt\": \"unterminated"));
        Path out = dist.work.resolve("bad-out.jsonl");
        Distribution.Result r = distillSpark(300, "generate", "--in", bad.toString(), "--out", out.toString(),
                "--teacher", dist.home.resolve("config/models/teacher").toString(), "--master", "local[2]");
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("bad.jsonl:3 (input partition 0): not valid JSON"), r.all());
        assertFalse(Files.exists(out));
        try (Stream<Path> s = Files.list(dist.work)) {
            assertTrue(s.noneMatch(p -> p.getFileName().toString().startsWith("bad-out")), "no temporary output");
        }
        Distribution.Result missing = distillSpark(120, "cache", "--in", bad.toString() + File.separator + "nope",
                "--out", out.toString(), "--teacher", dist.home.resolve("config/models/teacher").toString());
        assertEquals(2, missing.exit(), missing.all());
    }
}
