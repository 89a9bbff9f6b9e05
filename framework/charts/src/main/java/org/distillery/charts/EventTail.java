package org.distillery.charts;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * Follows an append-only JSONL file (a run's {@code events.jsonl}) by byte offset, handing out
 * complete lines only: a line still being written (no {@code \n} yet) waits for the next poll.
 *
 * <p>The file is reopened at every poll, so a deleted or replaced file is noticed. When the
 * file is shorter than the offset, was replaced (another file key), or the byte before the
 * offset is no longer the {@code \n} that ended the last line read (truncated and rewritten),
 * the tail starts again from byte 0 and the poll says {@link Batch#reset() reset}: whoever
 * keeps state from the lines must drop it. Not thread-safe; callers serialise polls.
 */
public final class EventTail {

    /** Most bytes read by one poll, so a huge backlog is consumed in bounded steps. */
    static final int MAX_READ = 8 << 20;

    /**
     * One complete line.
     *
     * @param text the line without its line break
     * @param end the byte offset just after its {@code \n}
     */
    public record Line(String text, long end) {
    }

    /**
     * What one poll found.
     *
     * @param reset the file was truncated or replaced: the lines start again from byte 0
     * @param lines the complete lines since the previous poll, in file order
     */
    public record Batch(boolean reset, List<Line> lines) {
    }

    private final Path file;
    private long offset;
    private Object fileKey;

    /** A tail of {@code file} from its first byte. */
    public EventTail(Path file) {
        this(file, 0);
    }

    /**
     * A tail of {@code file} resuming at {@code offset}, which must be 0 or just after a line
     * break (an offset a previous tail reported); anything else starts from 0 with a reset.
     */
    public EventTail(Path file, long offset) {
        if (offset < 0) {
            throw new IllegalArgumentException("offset must be >= 0, got " + offset);
        }
        this.file = file;
        this.offset = offset;
    }

    /** The offset just after the last complete line handed out. */
    public long offset() {
        return offset;
    }

    /** The file followed. */
    public Path file() {
        return file;
    }

    /** Reads the lines completed since the last poll (at most {@link #MAX_READ} bytes of them). */
    public Batch poll() throws IOException {
        FileChannel ch;
        Object key;
        try {
            key = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
            ch = FileChannel.open(file, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            boolean reset = offset > 0;
            offset = 0;
            fileKey = null;
            return new Batch(reset, List.of());
        }
        try (ch) {
            boolean reset = false;
            long size = ch.size();
            if (offset > 0 && (size < offset || (fileKey != null && !Objects.equals(fileKey, key))
                    || !lineBreakBefore(ch, offset))) {
                offset = 0;
                reset = true;
            }
            fileKey = key;
            if (size == offset) {
                return new Batch(reset, List.of());
            }
            int want = (int) Math.min(MAX_READ, size - offset);
            ByteBuffer buf = ByteBuffer.allocate(want);
            while (buf.hasRemaining()) {
                if (ch.read(buf, offset + buf.position()) < 0) {
                    break;
                }
            }
            byte[] bytes = buf.array();
            int n = buf.position();
            List<Line> lines = new ArrayList<>();
            int start = 0;
            for (int i = 0; i < n; i++) {
                if (bytes[i] == '\n') {
                    int end = i > start && bytes[i - 1] == '\r' ? i - 1 : i;
                    lines.add(new Line(new String(bytes, start, end - start, StandardCharsets.UTF_8),
                            offset + i + 1));
                    start = i + 1;
                }
            }
            if (start == 0 && n == MAX_READ) {
                throw new IOException(file + ": a line longer than " + MAX_READ + " bytes at offset " + offset);
            }
            offset += start;
            return new Batch(reset, lines);
        }
    }

    private static boolean lineBreakBefore(FileChannel ch, long at) throws IOException {
        ByteBuffer one = ByteBuffer.allocate(1);
        return ch.read(one, at - 1) == 1 && one.get(0) == '\n';
    }
}
