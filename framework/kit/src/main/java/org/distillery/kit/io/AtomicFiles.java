package org.distillery.kit.io;

import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Atomic writes: a file is written beside its target ({@code <name>.tmp}), forced to disk and
 * renamed over it; a folder is filled under a temporary name ({@link #staging}) and renamed into
 * place ({@link #commit}). A crash or a failed write leaves the old state or the new one, never
 * half of either, and never a partial file where the final one goes.
 */
public final class AtomicFiles {

    /** Writes the content of a file through a UTF-8 writer. */
    @FunctionalInterface
    public interface WriterBody {
        /** Writes the whole content; the writer is flushed and closed by the caller. */
        void write(Writer out) throws IOException;
    }

    /** Writes the content of a file as bytes. */
    @FunctionalInterface
    public interface StreamBody {
        /** Writes the whole content; the stream is flushed and closed by the caller. */
        void write(OutputStream out) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Writes {@code file} atomically as UTF-8; missing parent folders are created. */
    public static void writeUtf8(Path file, WriterBody body) throws IOException {
        write(file, out -> {
            Writer w = new BufferedWriter(new OutputStreamWriter(out, StandardCharsets.UTF_8.newEncoder()), 1 << 16);
            body.write(w);
            w.flush();
        });
    }

    /** Writes a string to {@code file} atomically as UTF-8. */
    public static void writeString(Path file, String content) throws IOException {
        writeUtf8(file, out -> out.write(content));
    }

    /** Writes {@code file} atomically; the temporary file is removed when {@code body} fails. */
    public static void write(Path file, StreamBody body) throws IOException {
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
                OutputStream out = Channels.newOutputStream(channel);
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

    /** A fresh temporary sibling folder for building {@code target} ({@code .<name>.tmp}). */
    public static Path staging(Path target) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + ".tmp");
        deleteTree(tmp);
        return Files.createDirectories(tmp);
    }

    /** Moves a filled staging folder onto {@code target}, replacing an older one; its files are forced to disk first. */
    public static void commit(Path staging, Path target) throws IOException {
        try (Stream<Path> files = Files.walk(staging)) {
            for (Path p : (Iterable<Path>) files.filter(Files::isRegularFile)::iterator) {
                try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                    ch.force(true);
                }
            }
        }
        if (Files.exists(target)) {
            Path old = target.resolveSibling("." + target.getFileName() + ".old");
            deleteTree(old);
            Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
            deleteTree(old);
        } else {
            Files.move(staging, target, StandardCopyOption.ATOMIC_MOVE);
        }
        Path parent = target.toAbsolutePath().getParent();
        if (parent != null) {
            syncDirectory(parent);
        }
    }

    /** Deletes a folder and everything in it, if present. */
    public static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static void syncDirectory(Path dir) {
        // makes the rename durable on POSIX file systems; not supported everywhere (e.g. Windows)
        try (FileChannel channel = FileChannel.open(dir, StandardOpenOption.READ)) {
            channel.force(true);
        } catch (IOException | UnsupportedOperationException ignored) {
            // best effort
        }
    }
}
