package org.distillery.spark.jobs;

import java.io.IOException;
import java.io.PrintStream;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.util.LongAccumulator;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.DataGenerator;
import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.spark.InvalidInputException;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.input.RecordCheck;
import org.distillery.spark.input.SourceLine;
import org.distillery.spark.teacher.Seeds;
import org.distillery.spark.teacher.ServedTeachers;

/**
 * {@code score} and {@code filter}: the data bundle's quality filter ({@code data.quality-filter})
 * as a job. Executors run the bundle's own generator, built through its Guice module and
 * {@code DataGeneratorFactory} with its own defaults, one record at a time with the seed
 * {@link Seeds#of}(seed, id, 0), so scores do not depend on partitioning; a task keeps
 * {@code concurrency} records in flight. {@code filter} keeps what the generator keeps (score at
 * least {@code min-score}; {@code meta.quality} holds the score); {@code score} keeps every record
 * and only annotates it (min-score lowered below any score, unscored records kept as
 * {@code meta.quality = unscored}). The judge is any OpenAI-compatible endpoint (the bundle's
 * {@code endpoint} block), e.g. {@code distill serve} of the embedded teacher; or a local teacher,
 * which each executor JVM loads once and serves on loopback for the bundle's generator to call.
 */
public final class QualityJob {

    /** The bundle's generator. */
    public static final String KEY = "data.quality-filter";

    /**
     * What to run.
     *
     * @param filter drop records below min-score ({@code filter}), or keep all ({@code score})
     * @param params the generator's parameters (HOCON), over its defaults; {@code input} and
     *     {@code seed} are set per record
     * @param concurrency records in flight per task
     * @param seed the job's seed
     * @param teacherDir a local teacher served inside each executor, or {@code null} for the
     *     endpoint in {@code params}
     * @param modelName the model id the local teacher answers to
     * @param device the executors' device for a local teacher
     */
    public record Options(boolean filter, String params, int concurrency, long seed, String teacherDir,
                          String modelName, String device) {
        /** Checks ranges. */
        public Options {
            try {
                org.distillery.tensor.DjlTensorService.checkSpec(device);
            } catch (IllegalArgumentException e) {
                throw new InvalidInputException("--device: " + e.getMessage());
            }
            if (concurrency < 1) {
                throw new InvalidInputException("--concurrency: must be at least 1 (got " + concurrency + ")");
            }
        }
    }

    /**
     * What was written.
     *
     * @param records input records
     * @param kept records written
     * @param seconds wall time
     */
    public record Summary(long records, long kept, double seconds) {
    }

    private record Plan(String params, boolean filter, int concurrency, long seed, String teacherDir,
                        String weightsSha256, String modelName, String device, Faults faults) implements Serializable {
    }

    private QualityJob() {
    }

    /** The generator's parameters for one record: the job's over the defaults, then input, seed and a served teacher. */
    private static Config params(Plan plan, Path input, long seed, String servedUrl) {
        Config given = ConfigFactory.parseString(plan.params());
        if (servedUrl != null) {
            given = ConfigFactory.parseMap(Map.of("endpoint.base-url", servedUrl, "endpoint.model", plan.modelName()))
                    .withFallback(given);
        }
        Config p = given.withFallback(PluginGenerators.defaults(KEY));
        if (!plan.filter()) {
            p = ConfigFactory.parseMap(Map.of("min-score", -1e300, "keep-unscored", true)).withFallback(p);
        }
        return ConfigFactory.parseMap(Map.of("input", input.toString(), "seed", seed)).withFallback(p).resolve();
    }

    /** Runs the job. */
    public static Summary run(SparkSession spark, JobIo io, Options o, PrintStream err) throws IOException {
        long t0 = System.nanoTime();
        String sha = null;
        String teacherDir = null;
        if (o.teacherDir() != null) {
            teacherDir = java.nio.file.Path.of(o.teacherDir()).toAbsolutePath().normalize().toString();
            try {
                sha = org.distillery.teachers.cache.TeacherIdentity.of(Path.of(teacherDir)).weightsSha256();
            } catch (IOException e) {
                throw new InvalidInputException("--teacher: " + e.getMessage());
            }
        }
        Plan plan = new Plan(o.params(), o.filter(), o.concurrency(), o.seed(), teacherDir, sha, o.modelName(),
                o.device(), Faults.parse(spark.sparkContext().getConf().get(Faults.KEY, "")));
        checkOnDriver(plan);
        Output output = Output.prepare(io.out(), spark.sparkContext().hadoopConfiguration(), io.overwrite());
        String job = o.filter() ? "filter" : "score";
        try (output; Inputs.Input input = Inputs.open(spark, io.in(), io.inFormat(), io.splitBytes(), RecordCheck.ANY);
             Progress progress = new Progress(spark, job, "records", input.records(), io.progressSeconds(), err)) {
            int parts = io.partitions() > 0 ? io.partitions() : spark.sparkContext().defaultParallelism();
            LongAccumulator counter = progress.counter();
            LongAccumulator kept = spark.sparkContext().longAccumulator("distillery." + job + ".kept");
            JavaRDD<String> lines = Partitioning.inOrder(input.lines(), input.records(), parts)
                    .mapPartitions(it -> judge(it, plan, counter, kept));
            output.writeJsonl(spark, lines);
            err.println(progress.line(progress.done()));
            return new Summary(input.records(), kept.value(), (System.nanoTime() - t0) / 1e9);
        }
    }

    /** Builds the generator once on the driver, so bad parameters fail before any work (exit 2). */
    private static void checkOnDriver(Plan plan) throws IOException {
        Path dir = Files.createTempDirectory("distill-spark-check");
        try {
            Path probe = dir.resolve("probe.jsonl");
            Files.writeString(probe, "{\"prompt\": \"p\", \"response\": \"r\"}\n", StandardCharsets.UTF_8);
            PluginGenerators.factory(KEY).create(params(plan, probe, 0,
                    plan.teacherDir() == null ? null : "http://127.0.0.1:1/v1"));
        } catch (ConfigException e) {
            throw new InvalidInputException("--params: " + e.getMessage());
        } catch (InvalidConfigException e) {
            throw new InvalidInputException("--params: " + e.getMessage());
        } finally {
            deleteTree(dir);
        }
    }

    private static Iterator<String> judge(Iterator<SourceLine> it, Plan plan, LongAccumulator counter,
                                          LongAccumulator kept) throws IOException {
        TaskContext tc = TaskContext.get();
        Path dir = Files.createTempDirectory("distill-spark-" + (tc == null ? "task" : "task-" + tc.taskAttemptId()));
        ExecutorService pool = Executors.newFixedThreadPool(plan.concurrency(), r -> {
            Thread t = new Thread(r, "distillery-judge");
            t.setDaemon(true);
            return t;
        });
        Runnable cleanup = () -> {
            pool.shutdownNow();
            deleteTree(dir);
        };
        if (tc != null) {
            tc.addTaskCompletionListener((org.apache.spark.util.TaskCompletionListener) ctx -> cleanup.run());
        }
        GeneratorRun run = new GeneratorRun(dir, plan.seed());
        String served = plan.teacherDir() == null ? null
                : ServedTeachers.baseUrl(plan.teacherDir(), plan.weightsSha256(), plan.device(), plan.modelName());
        return new Iterator<>() {
            private final ArrayDeque<Future<List<Example>>> inFlight = new ArrayDeque<>();
            private final ArrayDeque<String> ready = new ArrayDeque<>();
            private long produced;
            private long index;

            @Override
            public boolean hasNext() {
                while (ready.isEmpty()) {
                    while (inFlight.size() < 4 * plan.concurrency() && it.hasNext()) {
                        SourceLine line = it.next();
                        long i = index++;
                        inFlight.add(pool.submit(() -> one(line, run, plan, dir, i, served)));
                    }
                    if (inFlight.isEmpty()) {
                        if (tc == null) {
                            cleanup.run();
                        }
                        return false;
                    }
                    List<Example> out;
                    try {
                        out = inFlight.poll().get();
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                        throw new IllegalStateException("interrupted", e);
                    } catch (ExecutionException e) {
                        throw e.getCause() instanceof RuntimeException re ? re : new IllegalStateException(e.getCause());
                    }
                    for (Example e : out) {
                        ready.add(JsonlDataService.toJsonLine(e));
                    }
                    kept.add(out.size());
                    counter.add(1);
                    produced++;
                    plan.faults().check(produced);
                }
                return true;
            }

            @Override
            public String next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                return ready.poll();
            }
        };
    }

    /** Runs the generator on one record. */
    private static List<Example> one(SourceLine line, GeneratorRun run, Plan plan, Path dir, long index, String served)
            throws IOException {
        Example e = line.parse();
        Path input = dir.resolve("record-" + index + ".jsonl");
        Files.writeString(input, JsonlDataService.toJsonLine(e) + "\n", StandardCharsets.UTF_8);
        try {
            DataGenerator g = PluginGenerators.factory(KEY).create(params(plan, input, Seeds.of(plan.seed(), e.id(), 0),
                    served));
            return g.generate(run.context());
        } catch (InvalidConfigException ex) {
            throw new InvalidInputException(line.where() + ": " + ex.getMessage());
        } finally {
            Files.deleteIfExists(input);
        }
    }

    private static void deleteTree(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Prints the summary. */
    static void print(Summary s, boolean filter, String out, PrintStream stdout) {
        stdout.printf(Locale.ROOT, "%s: %d of %d records kept in %.1f s (%.2f records/s)%n", filter ? "filtered" : "scored",
                s.kept(), s.records(), s.seconds(), s.records() / Math.max(1e-9, s.seconds()));
        stdout.println("output: " + out);
    }
}
