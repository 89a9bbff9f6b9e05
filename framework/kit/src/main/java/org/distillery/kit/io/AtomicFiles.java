package org.distillery.kit.io;

import java.io.BufferedOutputStream;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.OutputStream;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

/**
 * Atomic writes: a file is written to a hidden temporary sibling ({@code .<name>.<random>.tmp}),
 * forced to disk and renamed over its target; a folder is filled under a temporary name
 * ({@link #staging}) and renamed into place ({@link #commit}); several files that belong together
 * are written first and renamed together ({@link #group}). A crash or a failed write (a full disk)
 * leaves the old state or the new one, never half of either, and never a partial file where the
 * final one goes; a failed write removes its temporary file and names the target in its message.
 *
 * <p>Every byte written through this class passes the test-only {@link WriteHook}, so tests can
 * make any write fail (as a full disk would) or stop the process at any point of a file.
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

    /** Writes the content of a file as buffers (direct buffers go to the file without a copy). */
    @FunctionalInterface
    public interface ChannelBody {
        /** Writes the whole content, in order; the channel is forced and closed by the caller. */
        void write(WritableByteChannel out) throws IOException;
    }

    /** A file written at positions of the caller's choosing (a header last, in front of its data). */
    @FunctionalInterface
    public interface PositionalChannel {
        /** Writes all of {@code src} at {@code position}; returns the bytes written. */
        int write(ByteBuffer src, long position) throws IOException;
    }

    /** Writes the content of a file at positions. */
    @FunctionalInterface
    public interface PositionalBody {
        /** Writes the whole content; the file is forced and closed by the caller. */
        void write(PositionalChannel out) throws IOException;
    }

    /**
     * Test hook: sees every chunk before it is written through this class. Throwing an
     * {@link IOException} simulates a failing device (a full disk, say); a test may also end the
     * process there to simulate a crash in the middle of a file. Never set in production.
     */
    @FunctionalInterface
    public interface WriteHook {
        /**
         * Called before {@code length} bytes are written at {@code offset} of the file that will
         * become {@code target} once renamed into place.
         */
        void beforeWrite(Path target, long offset, int length) throws IOException;
    }

    private static volatile WriteHook hook;

    private AtomicFiles() {
    }

    /** Sets (or with {@code null} clears) the test-only {@link WriteHook}. */
    public static void writeHook(WriteHook writeHook) {
        hook = writeHook;
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
        writeChannel(file, ch -> {
            OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
            body.write(out);
            out.flush();
        });
    }

    /** Writes {@code file} atomically from buffers; the temporary file is removed when {@code body} fails. */
    public static void writeChannel(Path file, ChannelBody body) throws IOException {
        try (Group g = group()) {
            g.writeChannel(file, body);
            g.commit();
        }
    }

    /** Writes {@code file} atomically at positions; the temporary file is removed when {@code body} fails. */
    public static void writePositional(Path file, PositionalBody body) throws IOException {
        try (Group g = group()) {
            g.writePositional(file, body);
            g.commit();
        }
    }

    /** A new group of files written now and renamed into place together by {@link Group#commit()}. */
    public static Group group() {
        return new Group();
    }

    /**
     * Files that belong together (a model's weights and its config): each is written to a
     * temporary sibling and forced to disk; {@link #commit()} then renames them all into place.
     * A failed write, or closing before the commit, removes the temporary files and leaves every
     * target as it was. Renames need no space, so a full disk cannot leave half a group.
     */
    public static final class Group implements AutoCloseable {

        private final Map<Path, Path> pending = new LinkedHashMap<>();
        private boolean committed;

        private Group() {
        }

        /** Writes {@code file}'s new content as a stream. */
        public void write(Path file, StreamBody body) throws IOException {
            writeChannel(file, ch -> {
                OutputStream out = new BufferedOutputStream(Channels.newOutputStream(ch), 1 << 16);
                body.write(out);
                out.flush();
            });
        }

        /** Writes {@code file}'s new content as a string in UTF-8. */
        public void writeString(Path file, String content) throws IOException {
            byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
            writeChannel(file, ch -> writeFully(ch, ByteBuffer.wrap(bytes)));
        }

        /** Writes {@code file}'s new content from buffers. */
        public void writeChannel(Path file, ChannelBody body) throws IOException {
            Path target = file.toAbsolutePath();
            Path tmp = temporary(target);
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                body.write(new HookedChannel(target, channel));
                channel.force(true);
            } catch (IOException e) {
                Files.deleteIfExists(tmp);
                throw failed(target, e);
            } catch (RuntimeException | Error e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            pending.put(target, tmp);
        }

        /** Writes {@code file}'s new content at positions. */
        public void writePositional(Path file, PositionalBody body) throws IOException {
            Path target = file.toAbsolutePath();
            Path tmp = temporary(target);
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                body.write((src, position) -> {
                    int n = src.remaining();
                    WriteHook h = hook;
                    if (h != null) {
                        h.beforeWrite(target, position, n);
                    }
                    long p = position;
                    while (src.hasRemaining()) {
                        p += channel.write(src, p);
                    }
                    return n;
                });
                channel.force(true);
            } catch (IOException e) {
                Files.deleteIfExists(tmp);
                throw failed(target, e);
            } catch (RuntimeException | Error e) {
                Files.deleteIfExists(tmp);
                throw e;
            }
            pending.put(target, tmp);
        }

        /** Renames every written file into place, in the order written. */
        public void commit() throws IOException {
            List<Path> dirs = new ArrayList<>();
            for (Map.Entry<Path, Path> e : pending.entrySet()) {
                move(e.getValue(), e.getKey());
                Path dir = e.getKey().getParent();
                if (dir != null && !dirs.contains(dir)) {
                    dirs.add(dir);
                }
            }
            pending.clear();
            committed = true;
            dirs.forEach(AtomicFiles::syncDirectory);
        }

        /** Removes the temporary files of a group that was not committed. */
        @Override
        public void close() throws IOException {
            if (committed) {
                return;
            }
            for (Path tmp : pending.values()) {
                Files.deleteIfExists(tmp);
            }
            pending.clear();
        }

        private static Path temporary(Path target) throws IOException {
            Path dir = target.getParent();
            if (dir != null) {
                Files.createDirectories(dir);
            }
            // created like any new file (the umask decides), not owner-only as createTempFile would
            java.util.concurrent.ThreadLocalRandom random = java.util.concurrent.ThreadLocalRandom.current();
            while (true) {
                Path tmp = target.resolveSibling("." + target.getFileName() + "."
                        + Long.toUnsignedString(random.nextLong(), 36) + ".tmp");
                try {
                    return Files.createFile(tmp);
                } catch (java.nio.file.FileAlreadyExistsException taken) {
                    // another writer drew the same name; draw again
                }
            }
        }
    }

    /** A failed write as an {@link IOException} that names the file it was for. */
    private static IOException failed(Path target, IOException io) {
        String msg = String.valueOf(io.getMessage());
        if (msg.contains(target.toString()) || msg.contains(target.getFileName().toString())) {
            return io;
        }
        return new IOException("cannot write " + target + ": " + msg, io);
    }

    /** Passes every buffer through the hook, then to the file. */
    private static final class HookedChannel implements WritableByteChannel {
        private final Path target;
        private final FileChannel channel;
        private long offset;

        HookedChannel(Path target, FileChannel channel) {
            this.target = target;
            this.channel = channel;
        }

        @Override
        public int write(ByteBuffer src) throws IOException {
            int n = src.remaining();
            WriteHook h = hook;
            if (h != null && n > 0) {
                h.beforeWrite(target, offset, n);
            }
            writeFully(channel, src);
            offset += n;
            return n;
        }

        @Override
        public boolean isOpen() {
            return channel.isOpen();
        }

        @Override
        public void close() {
            // the group forces and closes the file
        }
    }

    /** Writes all of {@code src} to {@code ch}. */
    public static void writeFully(WritableByteChannel ch, ByteBuffer src) throws IOException {
        while (src.hasRemaining()) {
            ch.write(src);
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

    private static void move(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
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
