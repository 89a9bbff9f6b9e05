package org.distillery.spark.bench;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.apache.spark.sql.SparkSession;

import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.data.JsonlDataService;
import org.distillery.spark.InvalidInputException;
import org.distillery.spark.Sessions;
import org.distillery.spark.SparkJobs;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.jobs.CacheJob;
import org.distillery.spark.jobs.JobIo;
import org.distillery.spark.teacher.ExecutorTeachers;
import org.distillery.tensor.DjlTensorService;
import org.distillery.teachers.cache.TeacherCacheWriter;
import org.distillery.teachers.cache.TeacherIdentity;
import org.distillery.teachers.cache.ValueType;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code distill bench spark}: records/s of the {@code cache} job at {@code local[1]} and
 * {@code local[2]} against the single-process writer ({@code distill teacher cache}'s code), all
 * in this JVM with one PyTorch intra-op thread per task, on the same records; checks that the
 * three files are identical. Prints figures; asserts no time.
 */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = {"Records/s of the cache job at local[1] and local[2] against the single-process path "
            + "(distill teacher cache's writer), one PyTorch thread per task.",
            "Run it alone on the machine: other processes on the cores change the figures."})
public final class CacheBench implements Callable<Integer> {

    @Option(names = "--teacher", required = true, description = "teacher model folder (e.g. config/models/teacher)")
    Path teacher;

    @Option(names = "--data", required = true, description = "JSONL dataset (e.g. config/data/suite/train.jsonl)")
    Path data;

    @Option(names = "--records", description = "first N records of the dataset (default 800)")
    int records = 800;

    @Option(names = "--max-length", description = "tokens per sequence (default 128)")
    int maxLength = 128;

    @Option(names = "--batch-size", description = "sequences per teacher forward (default 8)")
    int batchSize = 8;

    @Option(names = "--k", description = "top entries per position (default 32)")
    int k = 32;

    @Option(names = "--masters", split = ",", description = "Spark masters to measure (default local[1],local[2])")
    List<String> masters = List.of("local[1]", "local[2]");

    @Override
    public Integer call() throws Exception {
        if (System.getProperty("ai.djl.pytorch.num_threads") == null) {
            System.setProperty("ai.djl.pytorch.num_threads", "1");
        }
        PrintStream out = System.out;
        if (!Files.isRegularFile(data)) {
            throw new InvalidInputException("--data: no such file (got \"" + data + "\")");
        }
        List<String> lines = Files.readAllLines(data).stream().filter(l -> !l.isBlank()).limit(records).toList();
        Path work = Files.createTempDirectory("distill-bench-spark");
        try {
            Path subset = work.resolve("records.jsonl");
            Files.write(subset, lines);
            Path warmup = work.resolve("warmup.jsonl");
            Files.write(warmup, lines.subList(0, Math.max(1, lines.size() / 10)));
            List<Example> examples = new JsonlDataService().readJsonl(subset);
            TeacherCacheWriter.Options options = new TeacherCacheWriter.Options(k, maxLength, batchSize, ValueType.FP16);
            out.printf(Locale.ROOT, "distill bench spark: cache of %d records of %s, teacher %s, k %d, max-length %d, "
                    + "batch %d; PyTorch threads per task: %s; %d cores%n", examples.size(), data, teacher, k, maxLength,
                    batchSize, System.getProperty("ai.djl.pytorch.num_threads"), Runtime.getRuntime().availableProcessors());

            DjlTensorService tensors = ExecutorTeachers.tensors("cpu");
            Tokenizer tok = ExecutorTeachers.tokenizer(teacher.toAbsolutePath().normalize().toString());
            TeacherIdentity id = TeacherIdentity.of(teacher);
            Path single = work.resolve("single.bin");
            double singleSeconds;
            try (NDManager m = tensors.newRunScope("bench");
                 LanguageModel model = ExecutorTeachers.models().load(teacher, DataType.FLOAT32, m)) {
                // warm-up: engine, kernels and allocator, on a tenth of the records
                TeacherCacheWriter.write(model, id, tok, examples.subList(0, Math.max(1, examples.size() / 10)), null,
                        work.resolve("warmup.bin"), options, m, null);
                long t0 = System.nanoTime();
                TeacherCacheWriter.write(model, id, tok, examples, subset, single, options, m, null);
                singleSeconds = (System.nanoTime() - t0) / 1e9;
            }
            List<String[]> rows = new ArrayList<>();
            rows.add(row("single process (distill teacher cache)", singleSeconds, singleSeconds, examples.size(),
                    singleSeconds, "-"));
            byte[] reference = Files.readAllBytes(single);
            double firstTeacher = 0;
            for (String master : masters) {
                Path file = work.resolve("spark-" + master.replaceAll("[^a-z0-9]", "") + ".bin");
                CacheJob.Summary s;
                try (SparkSession spark = Sessions.start(master, Map.of(), "distill bench spark")) {
                    // warm-up run: the executors' teacher, Spark's code paths
                    CacheJob.run(spark, io(warmup, work.resolve("warm-" + file.getFileName()), spark), new CacheJob
                            .Options(teacher.toString(), null, k, maxLength, batchSize, ValueType.FP16, "cpu"),
                            new PrintStream(PrintStream.nullOutputStream()));
                    s = CacheJob.run(spark, io(subset, file, spark), new CacheJob.Options(teacher.toString(), null, k,
                            maxLength, batchSize, ValueType.FP16, "cpu"), new PrintStream(PrintStream.nullOutputStream()));
                }
                boolean same = Arrays.equals(reference, Files.readAllBytes(file));
                if (firstTeacher == 0) {
                    firstTeacher = s.teacherSeconds();
                }
                rows.add(row("spark cache " + master + (same ? "" : " (FILE DIFFERS)"), s.seconds(), s.teacherSeconds(),
                        examples.size(), singleSeconds, String.format(Locale.ROOT, "%.2fx", firstTeacher / s.teacherSeconds())));
                if (!same) {
                    out.println("error: the Spark cache at " + master + " differs from the single-process file");
                    print(out, rows);
                    return SparkJobs.FAILED;
                }
            }
            print(out, rows);
            out.println("job = whole job (input passes, sort, teacher, Parquet parts, assembly); teacher = the teacher "
                    + "stage alone; vs single = teacher-stage records/s over the single-process records/s; scaling = "
                    + "teacher-stage speed-up over the first master. All files byte-identical.");
            return SparkJobs.OK;
        } finally {
            try (Stream<Path> s = Files.walk(work)) {
                s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static JobIo io(Path in, Path out, SparkSession spark) {
        return new JobIo(List.of(in.toString()), Inputs.Format.JSONL, 64L << 20, out.toString(), true,
                spark.sparkContext().defaultParallelism(), 0);
    }

    private static String[] row(String what, double job, double teacher, int n, double single, String scaling) {
        return new String[] {what, String.format(Locale.ROOT, "%.2f", job), String.format(Locale.ROOT, "%.1f", n / job),
            String.format(Locale.ROOT, "%.2f", teacher), String.format(Locale.ROOT, "%.1f", n / teacher),
            String.format(Locale.ROOT, "%.2fx", single / teacher), scaling};
    }

    private static void print(PrintStream out, List<String[]> rows) {
        out.printf(Locale.ROOT, "%-44s %8s %10s %10s %12s %9s %8s%n", "path", "job s", "job rec/s", "teacher s",
                "teacher rec/s", "vs single", "scaling");
        for (String[] r : rows) {
            out.printf(Locale.ROOT, "%-44s %8s %10s %10s %12s %9s %8s%n", (Object[]) r);
        }
    }
}
