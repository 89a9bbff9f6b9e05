package org.distillery.data;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** Writes files atomically: {@code <name>.tmp} in the same directory, fsync, then an atomic rename. */
public final class AtomicFiles {

    /** Writes the content of a file through a UTF-8 writer. */
    @FunctionalInterface
    public interface WriterBody {
        /** Writes the whole content; the writer is flushed and closed by the caller. */
        void write(Writer out) throws IOException;
    }

    private AtomicFiles() {
    }

    /**
     * Writes {@code file} atomically as UTF-8: readers see either the old content or the whole new
     * content, never a partial file. Missing parent directories are created.
     */
    public static void writeUtf8(Path file, WriterBody body) throws IOException {
        Path target = file.toAbsolutePath();
        Path dir = target.getParent();
        if (dir != null) {
            Files.createDirectories(dir);
        }
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        boolean moved = false;
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE,
                    StandardOpenOption.TRUNCATE_EXISTING, StandardOpenOption.WRITE)) {
                Writer out = new BufferedWriter(new OutputStreamWriter(
                        Channels.newOutputStream(channel), StandardCharsets.UTF_8.newEncoder()), 1 << 16);
                body.write(out);
                out.flush();
                channel.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
            if (dir != null) {
                syncDirectory(dir);
            }
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }

    /** Writes a string to {@code file} atomically as UTF-8. */
    public static void writeString(Path file, String content) throws IOException {
        writeUtf8(file, out -> out.write(content));
    }

    private static void syncDirectory(Path dir) {
        // Makes the rename durable on POSIX file systems; not supported everywhere (e.g. Windows).
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }
}
