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
import java.util.List;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.spark.InvalidInputException;
import org.distillery.train.cache.TeacherCacheReader;

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
}
