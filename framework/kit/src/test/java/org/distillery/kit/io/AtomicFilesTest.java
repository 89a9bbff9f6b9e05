package org.distillery.kit.io;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link AtomicFiles}: whole new content or the old one, never a temporary file left behind. */
class AtomicFilesTest {

    @TempDir
    Path dir;

    private List<String> names(Path folder) throws IOException {
        try (Stream<Path> s = Files.list(folder)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void writeCreatesParentsAndReplaces() throws IOException {
        Path file = dir.resolve("a/b/report.txt");
        AtomicFiles.writeString(file, "first");
        assertEquals("first", Files.readString(file));
        AtomicFiles.writeString(file, "second, longer than the first");
        assertEquals("second, longer than the first", Files.readString(file));
        AtomicFiles.writeString(file, "3");
        assertEquals("3", Files.readString(file), "a shorter content leaves no tail of the older one");
        assertEquals(List.of("report.txt"), names(file.getParent()));

        AtomicFiles.write(dir.resolve("bytes.bin"), out -> out.write(new byte[] {0, 1, (byte) 255}));
        assertArrayEquals(new byte[] {0, 1, (byte) 255}, Files.readAllBytes(dir.resolve("bytes.bin")));

        AtomicFiles.writeUtf8(dir.resolve("utf8.txt"), w -> w.write("naïve – ☃"));
        assertArrayEquals("naïve – ☃".getBytes(StandardCharsets.UTF_8), Files.readAllBytes(dir.resolve("utf8.txt")));
    }

    @Test
    void aBodyThatFailsLeavesTheOldContentAndNoTemporaryFile() throws IOException {
        Path file = dir.resolve("checkpoint.json");
        AtomicFiles.writeString(file, "old");
        IOException io = assertThrows(IOException.class, () -> AtomicFiles.write(file, out -> {
            out.write("half of the new".getBytes(StandardCharsets.UTF_8));
            throw new IOException("disk full");
        }));
        assertEquals("cannot write " + file + ": disk full", io.getMessage(), "names the file and the cause");
        assertEquals("old", Files.readString(file));
        assertEquals(List.of("checkpoint.json"), names(dir));

        assertThrows(IllegalStateException.class, () -> AtomicFiles.writeUtf8(file, w -> {
            w.write("partial");
            throw new IllegalStateException("a bug in the writer");
        }));
        assertEquals("old", Files.readString(file));
        assertEquals(List.of("checkpoint.json"), names(dir));

        // a string UTF-8 cannot encode (a lone surrogate) fails the write instead of writing '?'
        assertThrows(IOException.class, () -> AtomicFiles.writeString(file, "bad \uD800 text"));
        assertEquals("old", Files.readString(file));
        assertEquals(List.of("checkpoint.json"), names(dir));

        Path fresh = dir.resolve("new.json");
        assertThrows(IOException.class, () -> AtomicFiles.write(fresh, out -> {
            throw new IOException("fails at once");
        }));
        assertFalse(Files.exists(fresh), "no partial file where the final one goes");
        assertEquals(List.of("checkpoint.json"), names(dir));
    }

    @Test
    void stagingAndCommitReplaceAFolder() throws IOException {
        Path target = dir.resolve("model");
        Files.createDirectories(target.resolve("old-sub"));
        Files.writeString(target.resolve("weights.bin"), "old weights");
        Files.writeString(target.resolve("old-sub/only-old.txt"), "x");

        Path staging = AtomicFiles.staging(target);
        assertEquals(dir.resolve(".model.tmp"), staging);
        assertTrue(Files.isDirectory(staging));
        Files.writeString(staging.resolve("weights.bin"), "new weights");
        Files.createDirectories(staging.resolve("sub"));
        Files.writeString(staging.resolve("sub/config.json"), "{}");
        AtomicFiles.commit(staging, target);

        assertEquals("new weights", Files.readString(target.resolve("weights.bin")));
        assertEquals("{}", Files.readString(target.resolve("sub/config.json")));
        assertFalse(Files.exists(target.resolve("old-sub")), "nothing of the old folder remains");
        assertEquals(List.of("model"), names(dir), "no staging or .old folder left");
    }

    @Test
    void commitOntoAMissingTarget() throws IOException {
        Path target = dir.resolve("out/merged");
        Files.createDirectories(target.getParent());
        Path staging = AtomicFiles.staging(target);
        Files.writeString(staging.resolve("a.txt"), "a");
        AtomicFiles.commit(staging, target);
        assertEquals("a", Files.readString(target.resolve("a.txt")));
        assertEquals(List.of("merged"), names(target.getParent()));
    }

    @Test
    void stagingStartsEmptyAfterAnInterruptedAttempt() throws IOException {
        Path target = dir.resolve("cache");
        Path first = AtomicFiles.staging(target);
        Files.createDirectories(first.resolve("deep/er"));
        Files.writeString(first.resolve("deep/er/stale.bin"), "from a crashed run");
        Path second = AtomicFiles.staging(target);
        assertEquals(first, second);
        assertEquals(List.of(), names(second));
    }

    @Test
    void deleteTreeRemovesEverythingAndIgnoresAMissingFolder() throws IOException {
        Path root = dir.resolve("tree");
        Files.createDirectories(root.resolve("a/b/c"));
        Files.writeString(root.resolve("a/b/c/f.txt"), "f");
        Files.writeString(root.resolve("a/g.txt"), "g");
        AtomicFiles.deleteTree(root);
        assertFalse(Files.exists(root));
        AtomicFiles.deleteTree(root);
        AtomicFiles.deleteTree(dir.resolve("never-existed"));
        Path file = dir.resolve("plain.txt");
        Files.writeString(file, "p");
        AtomicFiles.deleteTree(file);
        assertFalse(Files.exists(file), "a plain file is deleted too");
    }
}
