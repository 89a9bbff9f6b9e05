package org.distillery.spark.input;

import java.io.IOException;
import java.io.Serializable;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CharsetDecoder;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;

import org.apache.hadoop.fs.FSDataInputStream;
import org.apache.hadoop.fs.FileSystem;
import org.apache.hadoop.fs.Path;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;

/**
 * JSONL files read in parallel byte ranges with exact line numbers. A range owns the lines that
 * start inside it (a line starts at offset 0 or right after a {@code \n}); lines are split at
 * {@code \n} with one trailing {@code \r} dropped, decoded as strict UTF-8, a byte-order mark on
 * line 1 is dropped and blank lines are skipped but counted, exactly as
 * {@code JsonlDataService.readJsonl} does. A first pass counts each range's lines and records, so
 * the second knows every line's number and every record's index in the whole input.
 */
final class JsonlSplits {

    /**
     * A byte range of one file.
     *
     * @param index the input partition
     * @param path the file
     * @param start first byte
     * @param end one past the last byte
     * @param firstLine the 1-based number of the first line the range owns (0 until counted)
     * @param firstOrder the input index of the range's first record (0 until counted)
     */
    record Split(int index, String path, long start, long end, long firstLine, long firstOrder) implements Serializable {
        Split counted(long line, long order) {
            return new Split(index, path, start, end, line, order);
        }
    }

    /**
     * What the first pass finds in a range.
     *
     * @param lines lines the range owns
     * @param records non-blank lines among them
     */
    record Count(long lines, long records) implements Serializable {
    }

    private JsonlSplits() {
    }

    /** Ranges of at most {@code splitBytes} over {@code files} (each {@code [path, length]}), in order. */
    static List<Split> plan(List<String> paths, List<Long> lengths, long splitBytes) {
        List<Split> out = new ArrayList<>();
        for (int f = 0; f < paths.size(); f++) {
            long len = lengths.get(f);
            long start = 0;
            do {
                long end = Math.min(len, start + splitBytes);
                out.add(new Split(out.size(), paths.get(f), start, end, 0, 0));
                start = end;
            } while (start < len);
        }
        return out;
    }

    /** Reads every record of the files, numbered; two passes over the bytes. */
    static JavaRDD<SourceLine> read(JavaSparkContext jsc, List<String> paths, List<Long> lengths, long splitBytes,
                                    HadoopConf conf) {
        List<Split> splits = plan(paths, lengths, splitBytes);
        List<Count> counts = jsc.parallelize(splits, splits.size()).map(s -> count(s, conf)).collect();
        List<Split> numbered = new ArrayList<>(splits.size());
        long order = 0;
        long line = 1;
        String file = null;
        for (int i = 0; i < splits.size(); i++) {
            Split s = splits.get(i);
            if (!s.path().equals(file)) {
                file = s.path();
                line = 1;
            }
            numbered.add(s.counted(line, order));
            line += counts.get(i).lines();
            order += counts.get(i).records();
        }
        return jsc.parallelize(numbered, numbered.size()).flatMap(s -> new Lines(s, conf));
    }

    private static Count count(Split s, HadoopConf conf) throws IOException {
        long lines = 0;
        long records = 0;
        try (Lines it = new Lines(s, conf)) {
            while (it.advance()) {
                lines++;
                if (!it.blank) {
                    records++;
                }
            }
        }
        return new Count(lines, records);
    }

    /** The records of one range, in order; closes the file at the end. */
    static final class Lines implements Iterator<SourceLine>, AutoCloseable {
        private final Split split;
        private final FSDataInputStream in;
        private final CharsetDecoder decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT).onUnmappableCharacter(CodingErrorAction.REPORT);
        private byte[] buf = new byte[1 << 16];
        private int bufStart;
        private int bufEnd;
        private long bufOffset;
        private boolean eof;
        private long position;
        private long lineNo;
        private long order;
        private boolean closed;
        private SourceLine next;
        String text;
        String error;
        boolean blank;

        Lines(Split s, HadoopConf conf) throws IOException {
            this.split = s;
            Path p = new Path(s.path());
            FileSystem fs = p.getFileSystem(conf.get());
            this.in = fs.open(p);
            this.lineNo = s.firstLine() - 1;
            this.order = s.firstOrder();
            if (s.start() > 0) {
                in.seek(s.start() - 1);
                bufOffset = s.start() - 1;
                position = s.start() - 1;
                skipPastNewline();
            }
        }

        private void skipPastNewline() throws IOException {
            while (true) {
                if (bufStart == bufEnd && !fill()) {
                    return;
                }
                for (int i = bufStart; i < bufEnd; i++) {
                    if (buf[i] == '\n') {
                        position += i - bufStart + 1;
                        bufStart = i + 1;
                        return;
                    }
                }
                position += bufEnd - bufStart;
                bufStart = bufEnd;
            }
        }

        private boolean fill() throws IOException {
            if (eof) {
                return false;
            }
            if (bufStart > 0) {
                System.arraycopy(buf, bufStart, buf, 0, bufEnd - bufStart);
                bufEnd -= bufStart;
                bufOffset += bufStart;
                bufStart = 0;
            }
            if (bufEnd == buf.length) {
                buf = java.util.Arrays.copyOf(buf, buf.length * 2);
            }
            int n = in.read(buf, bufEnd, buf.length - bufEnd);
            if (n < 0) {
                eof = true;
                return false;
            }
            bufEnd += n;
            return true;
        }

        /** Moves to the next line the range owns; false when there is none. */
        boolean advance() throws IOException {
            if (position >= split.end()) {
                return false;
            }
            int scan = bufStart;
            int newline = -1;
            while (newline < 0) {
                for (int i = scan; i < bufEnd; i++) {
                    if (buf[i] == '\n') {
                        newline = i;
                        break;
                    }
                }
                if (newline >= 0) {
                    break;
                }
                int consumed = bufEnd - bufStart;
                if (!fill()) {
                    break;
                }
                scan = bufStart + consumed;
            }
            int lineEnd = newline >= 0 ? newline : bufEnd;
            if (newline < 0 && lineEnd == bufStart) {
                return false;
            }
            int to = lineEnd;
            if (to > bufStart && buf[to - 1] == '\r') {
                to--;
            }
            lineNo++;
            decode(ByteBuffer.wrap(buf, bufStart, to - bufStart));
            int next = newline >= 0 ? newline + 1 : bufEnd;
            position += next - bufStart;
            bufStart = next;
            return true;
        }

        private void decode(ByteBuffer bytes) {
            error = null;
            try {
                text = decoder.reset().decode(bytes).toString();
                if (lineNo == 1 && text.startsWith("\uFEFF")) {
                    text = text.substring(1);
                }
                blank = text.isBlank();
            } catch (CharacterCodingException e) {
                text = null;
                error = "not valid UTF-8";
                blank = false;
            }
        }

        @Override
        public boolean hasNext() {
            if (next != null) {
                return true;
            }
            try {
                while (advance()) {
                    if (!blank) {
                        next = new SourceLine(order++, split.index(), split.path(), lineNo, text, error);
                        return true;
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(split.path() + ": " + e.getMessage(), e);
            }
            close();
            return false;
        }

        @Override
        public SourceLine next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            SourceLine s = next;
            next = null;
            return s;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                try {
                    in.close();
                } catch (IOException ignored) {
                    // reading is over; nothing was written
                }
            }
        }
    }
}
