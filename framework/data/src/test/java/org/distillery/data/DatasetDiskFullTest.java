package org.distillery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import org.distillery.api.data.Example;
import org.distillery.kit.io.AtomicFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A dataset written onto a full disk: a clear error, the previous file intact, no partial file. */
class DatasetDiskFullTest {

    @TempDir
    Path dir;

    @AfterEach
    void clearHook() {
        AtomicFiles.writeHook(null);
    }

    private static List<Example> records(int n, String tag) {
        List<Example> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(Example.pair("r" + i, tag + " prompt " + i + " " + "x".repeat(i % 97), "response " + i, Map.of()));
        }
        return out;
    }

    @Test
    void aFullDiskAtAnyWriteLeavesThePreviousDataset() throws IOException {
        JsonlDataService data = new JsonlDataService();
        Path file = dir.resolve("train.jsonl");
        data.writeJsonl(file, records(50, "old"));
        byte[] previous = Files.readAllBytes(file);
        List<Example> next = records(3000, "new");
        int failures = 0;
        for (int k = 1; ; k++) {
            int failAt = k;
            AtomicInteger writes = new AtomicInteger();
            AtomicFiles.writeHook((target, offset, length) -> {
                if (writes.incrementAndGet() == failAt) {
                    throw new IOException("No space left on device");
                }
            });
            try {
                data.writeJsonl(file, next);
                assertTrue(writes.get() < failAt, "write " + failAt + " failed, yet the dataset was written");
                break;
            } catch (IOException e) {
                failures++;
                assertTrue(e.getMessage().contains(file.toString()) && e.getMessage().contains("No space left on device"),
                        e.getMessage());
                assertArrayEquals(previous, Files.readAllBytes(file), "write " + failAt + ": previous dataset intact");
                try (var s = Files.list(dir)) {
                    assertEquals(List.of("train.jsonl"), s.map(p -> p.getFileName().toString()).toList(),
                            "no partial file");
                }
            }
        }
        AtomicFiles.writeHook(null);
        assertTrue(failures >= 3, "a dataset of 3000 records is several writes; failed " + failures);
        assertEquals(3000, data.readJsonl(file).size());
        System.out.println("dataset: a full disk at each of " + failures + " writes left the previous file intact");
    }
}
