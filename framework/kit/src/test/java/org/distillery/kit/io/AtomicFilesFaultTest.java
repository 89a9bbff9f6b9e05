package org.distillery.kit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The write hook sees every chunk; a failed write or group changes no target and leaves no temporary file. */
class AtomicFilesFaultTest {

    @TempDir
    Path dir;

    @AfterEach
    void clearHook() {
        AtomicFiles.writeHook(null);
    }

    private List<String> names() throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void aGroupIsAllOrNothing() throws IOException {
        Path a = dir.resolve("a.txt");
        Path b = dir.resolve("b.bin");
        Files.writeString(a, "old a");
        Files.writeString(b, "old b");
        AtomicInteger writes = new AtomicInteger();
        AtomicFiles.writeHook((target, offset, length) -> {
            if (target.equals(b.toAbsolutePath()) && writes.incrementAndGet() == 2) {
                throw new IOException("No space left on device");
            }
        });
        IOException e = assertThrows(IOException.class, () -> {
            try (AtomicFiles.Group g = AtomicFiles.group()) {
                g.writeString(a, "new a");
                g.writeChannel(b, ch -> {
                    AtomicFiles.writeFully(ch, ByteBuffer.wrap("new ".getBytes(StandardCharsets.UTF_8)));
                    AtomicFiles.writeFully(ch, ByteBuffer.wrap("b".getBytes(StandardCharsets.UTF_8)));
                });
                g.commit();
            }
        });
        assertEquals("cannot write " + b.toAbsolutePath() + ": No space left on device", e.getMessage());
        assertEquals("old a", Files.readString(a), "the group's first file did not go in alone");
        assertEquals("old b", Files.readString(b));
        assertEquals(List.of("a.txt", "b.bin"), names(), "no temporary file left");
        AtomicFiles.writeHook(null);
        try (AtomicFiles.Group g = AtomicFiles.group()) {
            g.writeString(a, "new a");
            g.writeString(b, "new b");
            g.commit();
        }
        assertEquals("new a", Files.readString(a));
        assertEquals("new b", Files.readString(b));
    }

    @Test
    void positionalWritesPassTheHookAndAFailureKeepsThePreviousFile() throws IOException {
        Path f = dir.resolve("cache.bin");
        AtomicFiles.writePositional(f, ch -> {
            ch.write(ByteBuffer.wrap(new byte[] {3, 4}), 2);
            ch.write(ByteBuffer.wrap(new byte[] {1, 2}), 0);
        });
        assertEquals(List.of(1, 2, 3, 4), toList(Files.readAllBytes(f)));
        AtomicFiles.writeHook((target, offset, length) -> {
            if (offset == 0) {
                throw new IOException("No space left on device");
            }
        });
        assertThrows(IOException.class, () -> AtomicFiles.writePositional(f, ch -> {
            ch.write(ByteBuffer.wrap(new byte[] {9}), 1);
            ch.write(ByteBuffer.wrap(new byte[] {9}), 0);
        }));
        assertEquals(List.of(1, 2, 3, 4), toList(Files.readAllBytes(f)));
        assertEquals(List.of("cache.bin"), names());
    }

    @Test
    void aFileWrittenAtomicallyGetsTheUsualPermissionsNotOwnerOnly() throws IOException {
        Path f = dir.resolve("model.json");
        AtomicFiles.writeString(f, "{}");
        Path plain = Files.writeString(dir.resolve("plain.json"), "{}");
        if (Files.getFileStore(f).supportsFileAttributeView("posix")) {
            Set<PosixFilePermission> want = Files.getPosixFilePermissions(plain);
            assertEquals(want, Files.getPosixFilePermissions(f));
        }
        assertTrue(Files.exists(f));
    }

    private static List<Integer> toList(byte[] b) {
        return java.util.stream.IntStream.range(0, b.length).mapToObj(i -> (int) b[i]).toList();
    }
}
