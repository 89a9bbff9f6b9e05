package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.LanguageModel;
import org.distillery.kit.io.AtomicFiles;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A model folder written onto a full disk (single file and sharded): a clear error naming the
 * file, the folder exactly as it was (weights and configs together), no partial or temporary file.
 */
class ModelSaveDiskFullTest {

    static final HfModelService SVC = new HfModelService();

    @TempDir
    Path dir;

    @AfterEach
    void clearHook() {
        AtomicFiles.writeHook(null);
    }

    private static Map<String, byte[]> contents(Path folder) throws IOException {
        Map<String, byte[]> out = new TreeMap<>();
        try (Stream<Path> s = Files.list(folder)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                out.put(p.getFileName().toString(), Files.readAllBytes(p));
            }
        }
        return out;
    }

    private static void assertSame(Map<String, byte[]> a, Map<String, byte[]> b, String what) {
        assertEquals(a.keySet(), b.keySet(), what + ": files");
        a.forEach((k, v) -> assertTrue(Arrays.equals(v, b.get(k)), what + ": " + k + " changed"));
    }

    private int failEachWrite(Path folder, IoAction save) throws IOException {
        Map<String, byte[]> before = contents(folder);
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
                save.run();
                assertTrue(writes.get() < failAt, "write " + failAt + " failed, yet the model was saved");
                return failures;
            } catch (IOException e) {
                failures++;
                assertTrue(e.getMessage().contains(folder.toString()) && e.getMessage().contains("No space left"),
                        e.getMessage());
                assertSame(before, contents(folder), "write " + failAt);
            } finally {
                AtomicFiles.writeHook(null);
            }
        }
    }

    /** An action that may fail with an I/O error. */
    @FunctionalInterface
    interface IoAction {
        void run() throws IOException;
    }

    @Test
    void aFullDiskAtAnyWriteLeavesTheModelFolderAsItWas() throws IOException {
        try (NDManager m = NDManager.newBaseManager();
             LanguageModel old = SVC.create(TinyModels.config("qwen2"), 1, m);
             LanguageModel next = SVC.create(TinyModels.config("qwen2"), 2, m)) {
            Path single = dir.resolve("single");
            SVC.save(old, single, DataType.FLOAT32);
            int failures = failEachWrite(single, () -> SVC.save(next, single, DataType.FLOAT32));
            assertTrue(failures > next.parameters().size(), "every tensor is a write; failed " + failures);
            try (LanguageModel back = SVC.load(single, DataType.FLOAT32, m)) {
                assertTrue(Arrays.equals(next.parameters().get("model.norm.weight").toFloatArray(),
                        back.parameters().get("model.norm.weight").toFloatArray()));
            }
            Path sharded = dir.resolve("sharded");
            SVC.saveSharded(old, sharded, DataType.FLOAT32, 16 * 1024);
            System.out.println("model folder: a full disk at each of " + failures + " writes left it as it was");
            failures = failEachWrite(sharded, () -> SVC.saveSharded(next, sharded, DataType.BFLOAT16, 16 * 1024));
            assertTrue(failures > next.parameters().size(), "failed " + failures);
            System.out.println("sharded model folder: a full disk at each of " + failures + " writes left it as it was");
        }
    }
}
