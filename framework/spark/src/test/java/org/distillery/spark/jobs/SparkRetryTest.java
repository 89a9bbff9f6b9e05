package org.distillery.spark.jobs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.spark.Sessions;

/**
 * A task that fails once ({@code local[2,2]}: two threads, a task may fail once and is run
 * again): the first attempt of partition 1 fails after it produced some records, the retry
 * succeeds, and the output is the single-process output with no duplicates.
 */
class SparkRetryTest {

    private static final PrintStream QUIET = new PrintStream(PrintStream.nullOutputStream());
    private static SparkSession spark;
    private static Path dir;
    private static Path data;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("spark-retry");
        data = Suite.records(dir);
        spark = Sessions.start("local[2,2]", Map.of(Faults.KEY, "1:3"), "distillery retry tests");
    }

    @AfterAll
    static void stop() throws Exception {
        spark.stop();
        Suite.delete(dir);
    }

    @Test
    void generateAfterAnInjectedTaskFailureEqualsTheSingleProcessOutput() throws Exception {
        Path out = dir.resolve("gen.jsonl");
        GenerateJob.run(spark, Suite.io(data, out, 3), Suite.generateOptions(), QUIET);
        List<Example> got = new JsonlDataService().readJsonl(out);
        assertEquals(Suite.RECORDS, got.size());
        assertEquals(Suite.RECORDS, new HashSet<>(got.stream().map(Example::id).toList()).size(), "no duplicates");
        assertEquals(Suite.sortedById(Suite.singleProcessGeneration(data)), Suite.sortedById(got));
    }

    @Test
    void cacheAfterAnInjectedTaskFailureEqualsTheSingleProcessFile() throws Exception {
        Path out = dir.resolve("cache.bin");
        CacheJob.run(spark, Suite.io(data, out, 3), Suite.cacheOptions(), QUIET);
        assertArrayEquals(Files.readAllBytes(Suite.singleProcessCache(data, dir.resolve("reference.bin"))),
                Files.readAllBytes(out));
    }
}
