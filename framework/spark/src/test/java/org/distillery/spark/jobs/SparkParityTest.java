package org.distillery.spark.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.data.JsonlDataService;
import org.distillery.models.HfModelService;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.spark.InvalidInputException;
import org.distillery.spark.input.Inputs;
import org.distillery.spark.input.RecordCheck;
import org.distillery.spark.input.SourceLine;
import org.distillery.spark.teacher.EndpointTeacher;
import org.distillery.tensor.DjlTensorService;
import org.distillery.teachers.cache.TeacherCacheReader;
import org.distillery.teachers.cache.ValueType;

/**
 * The Spark jobs at {@code local[2]} against the single-process paths on 40 suite records and the
 * embedded teacher: the same cache file byte for byte, the same generated records, whatever the
 * partitioning; bad input fails naming file, partition and line, and leaves no output.
 */
class SparkParityTest {

    private static final PrintStream QUIET = new PrintStream(PrintStream.nullOutputStream());
    private static SparkSession spark;
    private static Path dir;
    private static Path data;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("spark-parity");
        data = Suite.records(dir);
        spark = Suite.session("local[2]");
    }

    @AfterAll
    static void stop() throws Exception {
        spark.stop();
        Suite.delete(dir);
    }

    @Test
    void cacheEqualsTheSingleProcessFileByteForByteWithOneTwoAndThreePartitions() throws Exception {
        byte[] reference = Files.readAllBytes(Suite.singleProcessCache(data, dir.resolve("reference.bin")));
        for (int partitions : new int[] {1, 2, 3}) {
            Path out = dir.resolve("spark-" + partitions + ".bin");
            CacheJob.Summary s = CacheJob.run(spark, Suite.io(data, out, partitions), Suite.cacheOptions(), QUIET);
            assertEquals(Suite.RECORDS, s.header().examples());
            assertArrayEquals(reference, Files.readAllBytes(out), "cache with " + partitions + " partitions");
            try (TeacherCacheReader r = TeacherCacheReader.open(out)) {
                assertEquals(s.header().records(), r.header().records());
            }
        }
        // the compact formats (q8 and q4, version 2) too: their records vary in length, the index carries their bytes
        for (ValueType vt : new ValueType[] {ValueType.Q8, ValueType.Q4}) {
            byte[] compact = Files.readAllBytes(Suite.singleProcessCache(data, dir.resolve("reference-" + vt + ".bin"),
                    vt));
            for (int partitions : new int[] {1, 3}) {
                Path out = dir.resolve("spark-" + vt + "-" + partitions + ".bin");
                CacheJob.run(spark, Suite.io(data, out, partitions), Suite.cacheOptions(vt), QUIET);
                assertArrayEquals(compact, Files.readAllBytes(out), vt + " cache with " + partitions + " partitions");
            }
        }
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().contains(".tmp")), "no temporary output left");
        }
    }

    @Test
    void generateEqualsSingleProcessGenerationWithOneAndThreePartitions() throws Exception {
        List<String> reference = Suite.sortedById(Suite.singleProcessGeneration(data));
        Path one = dir.resolve("gen-1.jsonl");
        Path three = dir.resolve("gen-3.jsonl");
        GenerateJob.Summary s = GenerateJob.run(spark, Suite.io(data, one, 1), Suite.generateOptions(), QUIET);
        assertEquals(Suite.RECORDS, s.written());
        GenerateJob.run(spark, Suite.io(data, three, 3), Suite.generateOptions(), QUIET);
        List<Example> got = new JsonlDataService().readJsonl(one);
        assertEquals(reference, Suite.sortedById(got));
        assertEquals(Files.readString(one), Files.readString(three), "1 and 3 partitions give the same file");
        List<Example> in = new JsonlDataService().readJsonl(data);
        for (int i = 0; i < in.size(); i++) {
            assertEquals(in.get(i).id(), got.get(i).id(), "output in input order");
        }
    }

    @Test
    void aMalformedLineFailsNamingFilePartitionAndLineAndWritesNothing() throws Exception {
        List<String> lines = Files.readAllLines(data, StandardCharsets.UTF_8);
        Path bad = dir.resolve("bad.jsonl");
        Files.write(bad, List.of(lines.get(0), lines.get(1), "", "{\"prompt\": \"x\", \"response\": 3}", lines.get(2)));
        Path out = dir.resolve("bad-out.jsonl");
        InvalidInputException e = assertThrows(InvalidInputException.class,
                () -> GenerateJob.run(spark, Suite.io(bad, out, 2), Suite.generateOptions(), QUIET));
        assertTrue(e.getMessage().contains("bad.jsonl:4 (input partition 0): \"response\" must be a string"),
                e.getMessage());
        Path cacheOut = dir.resolve("bad.bin");
        InvalidInputException c = assertThrows(InvalidInputException.class,
                () -> CacheJob.run(spark, Suite.io(bad, cacheOut, 2), Suite.cacheOptions(), QUIET));
        assertTrue(c.getMessage().contains("bad.jsonl:4"), c.getMessage());
        assertFalse(Files.exists(out));
        assertFalse(Files.exists(cacheOut));
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith("bad-out")
                    || p.getFileName().toString().startsWith("bad.bin")), "no output, not even temporary");
        }
    }

    @Test
    void jsonlSplitsNumberLinesAndRecordsExactlyAsTheSingleProcessReader() throws Exception {
        List<String> lines = Files.readAllLines(data, StandardCharsets.UTF_8);
        StringBuilder text = new StringBuilder("\uFEFF");
        for (int i = 0; i < 12; i++) {
            text.append(i % 4 == 3 ? "\r\n" : "").append(lines.get(i)).append(i % 3 == 0 ? "\r\n" : "\n");
            if (i % 5 == 0) {
                text.append("   \n");
            }
        }
        Path f = dir.resolve("split.jsonl");
        Files.writeString(f, text.toString().replaceAll("\"id\": \"[^\"]*\", ", ""), StandardCharsets.UTF_8);
        List<Example> expected = new JsonlDataService().readJsonl(f);
        for (long splitBytes : new long[] {37, 300, 1 << 20}) {
            try (Inputs.Input in = Inputs.open(spark, List.of(f.toString()), Inputs.Format.JSONL, splitBytes,
                    RecordCheck.ANY)) {
                List<SourceLine> got = new ArrayList<>(in.lines().collect());
                got.sort(java.util.Comparator.comparingLong(SourceLine::order));
                assertEquals(expected.size(), got.size(), "records with " + splitBytes + "-byte splits");
                for (int i = 0; i < got.size(); i++) {
                    assertEquals(i, got.get(i).order());
                    assertEquals(expected.get(i), got.get(i).parse(), "record " + i + ", " + splitBytes + "-byte splits");
                }
            }
        }
    }

    @Test
    void generateThroughAnEndpointEqualsTheLocalTeacherGreedy() throws Exception {
        HfModelService models = new HfModelService();
        try (DjlTensorService tensors = DjlTensorService.start("cpu");
             NDManager m = tensors.newRunScope("served");
             LanguageModel model = models.load(Suite.TEACHER, DataType.FLOAT32, m);
             OpenAiServer server = OpenAiServer.start(model, models.tokenizer(Suite.TEACHER), m,
                     ServeOptions.defaults("teacher").withBatching(Duration.ZERO, 1))) {
            GenerateJob.Options local = new GenerateJob.Options(Suite.TEACHER.toString(), null, "cpu", 1,
                    Suite.MAX_NEW_TOKENS, 0f, 0, 1f, Suite.SEED);
            GenerateJob.Options remote = new GenerateJob.Options(null, new EndpointTeacher.Settings(server.baseUrl(),
                    "teacher", "", "completion", 2, 2, 60, ""), "cpu", 1, Suite.MAX_NEW_TOKENS, 0f, 0, 1f, Suite.SEED);
            Path a = dir.resolve("greedy-local.jsonl");
            Path b = dir.resolve("greedy-endpoint.jsonl");
            GenerateJob.run(spark, Suite.io(data, a, 2), local, QUIET);
            GenerateJob.run(spark, Suite.io(data, b, 2), remote, QUIET);
            assertEquals(Files.readString(a), Files.readString(b));
        }
    }

    @Test
    void filterAndScoreRunTheDataBundlesQualityFilterAsTheSingleProcessStageDoes() throws Exception {
        HfModelService models = new HfModelService();
        try (DjlTensorService tensors = DjlTensorService.start("cpu");
             NDManager m = tensors.newRunScope("served");
             LanguageModel model = models.load(Suite.TEACHER, DataType.FLOAT32, m);
             OpenAiServer server = OpenAiServer.start(model, models.tokenizer(Suite.TEACHER), m,
                     ServeOptions.defaults("teacher").withBatching(Duration.ZERO, 1))) {
            String params = "endpoint.base-url = \"" + server.baseUrl() + "\"\nendpoint.api = completion\n"
                    + "scorer = logprob\nmin-score = -0.3\n";
            // the single-process stage: the bundle's generator over the whole file
            Path work = Files.createDirectories(dir.resolve("single-filter"));
            List<Example> reference = PluginGenerators.factory(QualityJob.KEY).create(com.typesafe.config.ConfigFactory
                    .parseString(params + "input = \"" + data + "\"\nseed = 1\n")
                    .withFallback(PluginGenerators.defaults(QualityJob.KEY)).resolve()).generate(new GeneratorRun(work, 1).context());
            Path filtered = dir.resolve("filtered.jsonl");
            QualityJob.Summary s = QualityJob.run(spark, Suite.io(data, filtered, 3),
                    new QualityJob.Options(true, params, 2, 1, null, "teacher", "cpu"), QUIET);
            List<Example> got = new JsonlDataService().readJsonl(filtered);
            assertTrue(got.size() > 0 && got.size() < Suite.RECORDS, "the threshold keeps some: " + got.size());
            assertEquals(reference.size(), s.kept());
            assertEquals(reference.stream().map(JsonlDataService::toJsonLine).toList(),
                    got.stream().map(JsonlDataService::toJsonLine).toList());
            Path scored = dir.resolve("scored.jsonl");
            QualityJob.run(spark, Suite.io(data, scored, 2), new QualityJob.Options(false, params, 2, 1, null, "teacher",
                    "cpu"), QUIET);
            List<Example> all = new JsonlDataService().readJsonl(scored);
            assertEquals(Suite.RECORDS, all.size());
            assertTrue(all.stream().allMatch(e -> e.meta().containsKey("quality")));
            // the same judge loaded and served inside the executors instead of called at an endpoint
            Path local = dir.resolve("filtered-local.jsonl");
            QualityJob.run(spark, Suite.io(data, local, 2), new QualityJob.Options(true,
                    "endpoint.api = completion\nscorer = logprob\nmin-score = -0.3\n", 2, 1, Suite.TEACHER.toString(),
                    "teacher", "cpu"), QUIET);
            assertEquals(Files.readString(filtered), Files.readString(local));
        }
    }

    @Test
    void parquetInputGivesTheSameGenerationAsJsonl() throws Exception {
        List<org.apache.spark.sql.Row> rows = new ArrayList<>();
        for (Example e : new JsonlDataService().readJsonl(data)) {
            rows.add(org.apache.spark.sql.RowFactory.create(e.id(), e.prompt(), e.response(), e.meta()));
        }
        org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType()
                .add("id", org.apache.spark.sql.types.DataTypes.StringType)
                .add("prompt", org.apache.spark.sql.types.DataTypes.StringType)
                .add("response", org.apache.spark.sql.types.DataTypes.StringType)
                .add("meta", org.apache.spark.sql.types.DataTypes.createMapType(
                        org.apache.spark.sql.types.DataTypes.StringType, org.apache.spark.sql.types.DataTypes.StringType));
        Path parquet = dir.resolve("suite-40.parquet");
        spark.createDataFrame(rows, schema).repartition(3).write().parquet(parquet.toString());
        Path fromJsonl = dir.resolve("from-jsonl.jsonl");
        Path fromParquet = dir.resolve("from-parquet.jsonl");
        GenerateJob.run(spark, Suite.io(data, fromJsonl, 2), Suite.generateOptions(), QUIET);
        GenerateJob.run(spark, Suite.io(parquet, fromParquet, 2), Suite.generateOptions(), QUIET);
        assertEquals(Suite.sortedById(new JsonlDataService().readJsonl(fromJsonl)),
                Suite.sortedById(new JsonlDataService().readJsonl(fromParquet)));
    }
}
