package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.zip.CRC32;

import org.distillery.api.InvalidFileException;

/**
 * A teacher cache opened by memory mapping. Opening checks the header, the index (order,
 * offsets, sizes, checksum) and the file length; reading a record checks its checksum. Every
 * problem is an {@link IOException} naming the file and what is wrong. Thread-safe for reads.
 */
public final class TeacherCacheReader implements AutoCloseable {

    /** Data is mapped in segments of this size, each overlapping the next by one whole record. */
    private static final long SEGMENT = 1L << 30;

    private final Path file;
    private final TeacherCacheHeader header;
    private final ByteBuffer index;
    private final int entryBytes;
    private final ByteBuffer[] segments;
    private final long maxRecordBytes;
    private volatile boolean closed;

    private TeacherCacheReader(Path file, TeacherCacheHeader header, ByteBuffer index, ByteBuffer[] segments,
                               long maxRecordBytes) {
        this.file = file;
        this.header = header;
        this.index = index;
        this.entryBytes = header.indexEntryBytes();
        this.segments = segments;
        this.maxRecordBytes = maxRecordBytes;
    }

    /** Opens and checks {@code file}. */
    public static TeacherCacheReader open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new InvalidFileException("teacher cache " + file + ": no such file");
        }
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long size = ch.size();
            Problems p = new Problems(file);
            if (size < CacheFormat.FIXED_HEADER) {
                throw p.bad("truncated: " + size + " bytes, shorter than the " + CacheFormat.FIXED_HEADER
                        + "-byte header");
            }
            ByteBuffer fixed = read(ch, 0, CacheFormat.FIXED_HEADER);
            byte[] magic = new byte[8];
            fixed.get(magic);
            if (!Arrays.equals(magic, CacheFormat.MAGIC)) {
                throw p.bad("not a teacher cache (magic bytes " + HexFormat.of().formatHex(magic) + ", expected \""
                        + new String(CacheFormat.MAGIC, StandardCharsets.US_ASCII) + "\")");
            }
            int version = fixed.getInt();
            if (version != CacheFormat.VERSION && version != CacheFormat.VERSION_2) {
                throw p.bad("format version " + Integer.toUnsignedString(version) + " is not supported (this build reads "
                        + CacheFormat.VERSION + " and " + CacheFormat.VERSION_2 + ")");
            }
            long headerBytes = Integer.toUnsignedLong(fixed.getInt());
            int k = fixed.getInt();
            int vocab = fixed.getInt();
            int idBytes = fixed.get();
            int valueCode = fixed.get();
            fixed.getShort();
            int maxLength = fixed.getInt();
            int records = fixed.getInt();
            int examples = fixed.getInt();
            long positions = fixed.getLong();
            long dataOffset = fixed.getLong();
            long fileBytes = fixed.getLong();
            int atMax = fixed.getInt();
            int longest = fixed.getInt();
            if (headerBytes < CacheFormat.FIXED_HEADER + 18 || headerBytes > CacheFormat.FIXED_HEADER + 8 + 5 * 65537) {
                throw p.bad("header size " + headerBytes + " is impossible");
            }
            if (fileBytes != size) {
                throw p.bad((size < fileBytes ? "truncated" : "has trailing bytes") + ": the header says " + fileBytes
                        + " bytes, the file has " + size);
            }
            if (headerBytes > size) {
                throw p.bad("truncated inside the header (" + headerBytes + " header bytes, file " + size + ")");
            }
            ByteBuffer head = read(ch, 0, (int) headerBytes);
            CRC32 headCrc = new CRC32();
            headCrc.update(head.array(), 0, (int) headerBytes - 4);
            if ((int) headCrc.getValue() != head.getInt((int) headerBytes - 4)) {
                throw p.bad("header checksum mismatch (the header is corrupt)");
            }
            ValueType vt = ValueType.ofCode(valueCode);
            if (vt == null) {
                throw p.bad("unknown value type code " + valueCode + " (1 = fp16, 2 = fp32, 3 = q8, 4 = q4)");
            }
            if (CacheFormat.version(vt) != version) {
                throw p.bad("value type " + vt.name().toLowerCase(java.util.Locale.ROOT) + " is not stored in format "
                        + "version " + version);
            }
            if (k < 1 || vocab < 1 || k > vocab) {
                throw p.bad("k = " + k + " and vocabulary " + vocab + " are inconsistent");
            }
            if (version == CacheFormat.VERSION_2 ? idBytes != 0
                    : (idBytes != 1 && idBytes != 2 && idBytes != 4) || idBytes < CacheFormat.idBytes(vocab)) {
                throw p.bad(idBytes + "-byte token ids cannot hold a vocabulary of " + vocab + " in format version "
                        + version);
            }
            if (maxLength < 2 || records < 0 || examples < records || positions < 0 || longest > maxLength) {
                throw p.bad("inconsistent counts (max-length " + maxLength + ", records " + records + ", examples "
                        + examples + ", positions " + positions + ", longest " + longest + ")");
            }
            head.position(CacheFormat.FIXED_HEADER);
            String[] strings = new String[5];
            for (int i = 0; i < strings.length; i++) {
                if (head.remaining() < 2 + 8) {
                    throw p.bad("header strings run past the header");
                }
                int len = Short.toUnsignedInt(head.getShort());
                if (head.remaining() < len + 8) {
                    throw p.bad("header strings run past the header");
                }
                byte[] u = new byte[len];
                head.get(u);
                try {
                    strings[i] = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                            .decode(ByteBuffer.wrap(u)).toString();
                } catch (CharacterCodingException e) {
                    throw p.bad("header string " + (i + 1) + " is not UTF-8");
                }
            }
            if (head.remaining() != 8) {
                throw p.bad("header size " + headerBytes + " does not match its contents");
            }
            int indexCrc = head.getInt();
            boolean v2 = version == CacheFormat.VERSION_2;
            int entryBytes = CacheFormat.indexEntry(version);
            long indexBytes = (long) records * entryBytes;
            if (dataOffset != headerBytes + indexBytes) {
                throw p.bad("data offset " + dataOffset + " should be " + (headerBytes + indexBytes)
                        + " (header + index of " + records + " entries)");
            }
            long stride = v2 ? 0 : CacheFormat.stride(k, idBytes, vt.bytes());
            if (!v2 && fileBytes != dataOffset + positions * stride) {
                throw p.bad("size " + fileBytes + " does not match " + positions + " positions of " + stride + " bytes after "
                        + dataOffset);
            }
            if (v2 && fileBytes < dataOffset) {
                throw p.bad("size " + fileBytes + " is smaller than the header and index (" + dataOffset + " bytes)");
            }
            TeacherCacheHeader header = new TeacherCacheHeader(version, k, vocab, idBytes, vt, maxLength, records,
                    examples, positions, dataOffset, fileBytes, atMax, longest,
                    new TeacherIdentity(strings[0], strings[1]), strings[2], strings[3], strings[4]);
            if (indexBytes > Integer.MAX_VALUE) {
                throw p.bad("index of " + records + " entries is too large to map");
            }
            ByteBuffer index = ch.map(FileChannel.MapMode.READ_ONLY, headerBytes, indexBytes)
                    .order(ByteOrder.LITTLE_ENDIAN);
            CRC32 crc = new CRC32();
            crc.update(index.duplicate());
            if ((int) crc.getValue() != indexCrc) {
                throw p.bad("index checksum mismatch (the index is corrupt)");
            }
            long maxRecord = (long) Math.max(0, maxLength - 1) * stride;
            long sum = 0;
            long previous = 0;
            for (int i = 0; i < records; i++) {
                int at = i * entryBytes;
                long hash = index.getLong(at);
                long offset = index.getLong(at + 8);
                long n = Integer.toUnsignedLong(index.getInt(at + 16));
                if (i > 0 && hash <= previous) {
                    throw p.bad("index entry " + i + " is out of order or duplicated (keys must strictly increase)");
                }
                previous = hash;
                if (n > maxLength - 1) {
                    throw p.bad("index entry " + i + " has " + n + " positions, more than max-length " + maxLength
                            + " allows");
                }
                if (v2) {
                    long bytes = Integer.toUnsignedLong(index.getInt(at + 24));
                    if (offset < dataOffset || offset + bytes > fileBytes
                            || bytes < n * RecordCodec.minV2PositionBytes(k, vt) || (n == 0) != (bytes == 0)) {
                        throw p.bad("index entry " + i + " points to bytes " + offset + ".." + (offset + bytes)
                                + ", outside the records (" + dataOffset + ".." + fileBytes + ") or too short for its "
                                + n + " positions");
                    }
                    maxRecord = Math.max(maxRecord, bytes);
                } else if (offset < dataOffset || offset > fileBytes || (offset - dataOffset) % stride != 0
                        || offset + n * stride > fileBytes) {
                    throw p.bad("index entry " + i + " points to bytes " + offset + ".." + (offset + n * stride)
                            + ", outside the records (" + dataOffset + ".." + fileBytes + ") or off the "
                            + stride + "-byte position grid");
                }
                sum += n;
            }
            if (sum != positions) {
                throw p.bad("the index holds " + sum + " positions, the header says " + positions);
            }
            if (v2) {
                checkTiling(p, index, entryBytes, records, dataOffset, fileBytes);
            }
            long dataBytes = fileBytes - dataOffset;
            int nSeg = (int) Math.max(1, (dataBytes + SEGMENT - 1) / SEGMENT);
            ByteBuffer[] segs = new ByteBuffer[nSeg];
            for (int s = 0; s < nSeg; s++) {
                long from = dataOffset + s * SEGMENT;
                long len = Math.min(fileBytes - from, SEGMENT + maxRecord);
                MappedByteBuffer mb = ch.map(FileChannel.MapMode.READ_ONLY, from, Math.max(0, len));
                segs[s] = mb.order(ByteOrder.LITTLE_ENDIAN);
            }
            return new TeacherCacheReader(file, header, index, segs, maxRecord);
        }
    }

    /** Version 2's records must tile the data region exactly: no gap, no overlap, nothing after the last. */
    private static void checkTiling(Problems p, ByteBuffer index, int entryBytes, int records, long dataOffset,
                                    long fileBytes) throws IOException {
        long[][] spans = new long[records][];
        for (int i = 0; i < records; i++) {
            int at = i * entryBytes;
            spans[i] = new long[] {index.getLong(at + 8), Integer.toUnsignedLong(index.getInt(at + 24)), i};
        }
        Arrays.sort(spans, (a, b) -> Long.compare(a[0], b[0]));
        long next = dataOffset;
        for (long[] span : spans) {
            if (span[1] == 0) {
                continue;
            }
            if (span[0] != next) {
                throw p.bad("index entry " + span[2] + " starts at byte " + span[0] + " where the records leave "
                        + (span[0] < next ? "an overlap" : "a gap") + " (expected " + next + ")");
            }
            next += span[1];
        }
        if (next != fileBytes) {
            throw p.bad("the records end at byte " + next + ", the file at " + fileBytes);
        }
    }

    private static ByteBuffer read(FileChannel ch, long at, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
        while (b.hasRemaining()) {
            if (ch.read(b, at + b.position()) < 0) {
                break;
            }
        }
        return b.flip();
    }

    /** The cache file. */
    public Path file() {
        return file;
    }

    /** Its header. */
    public TeacherCacheHeader header() {
        return header;
    }

    /**
     * The index entry of a token sequence (all its tokens, as {@code Records.encode} made
     * them), or -1 when the cache does not hold it.
     */
    public int find(int[] ids, int length) {
        long key = CacheFormat.hash(ids, length);
        int lo = 0;
        int hi = header.records() - 1;
        while (lo <= hi) {
            int mid = (lo + hi) >>> 1;
            long h = index.getLong(mid * entryBytes);
            if (h < key) {
                lo = mid + 1;
            } else if (h > key) {
                hi = mid - 1;
            } else {
                return positions(mid) == Math.max(0, length - 1) ? mid : -1;
            }
        }
        return -1;
    }

    /** Positions of index entry {@code entry}. */
    public int positions(int entry) {
        return index.getInt(entry * entryBytes + 16);
    }

    /**
     * Copies the first {@code n} positions of an entry: {@code n * k} ids into {@code ids} from
     * {@code idsAt}, as many log-probabilities into {@code logProbs} from the same index, and
     * {@code n} rest log-masses into {@code rest} from {@code restAt}. Infinite values become
     * {@code -floor} (a finite stand-in for log 0).
     */
    public void read(int entry, int n, long[] ids, float[] logProbs, int idsAt, float[] rest, int restAt, float floor)
            throws IOException {
        if (closed) {
            throw new IllegalStateException("teacher cache " + file + ": closed");
        }
        int at = entry * entryBytes;
        long offset = index.getLong(at + 8);
        int stored = index.getInt(at + 16);
        int crc = index.getInt(at + 20);
        if (n > stored) {
            throw new InvalidFileException("teacher cache " + file + ": entry " + entry + " has " + stored
                    + " positions, asked for " + n);
        }
        int k = header.k();
        int idBytes = header.idBytes();
        boolean half = header.valueType() == ValueType.FP16;
        int vb = header.valueType().bytes();
        long stride = header.positionBytes();
        boolean v2 = header.version() == CacheFormat.VERSION_2;
        long rel = offset - header.dataOffset();
        int seg = (int) (rel / SEGMENT);
        ByteBuffer b = segments[seg];
        int base = (int) (rel - seg * SEGMENT);
        int len = v2 ? index.getInt(at + 24) : (int) (stored * stride);
        if (base + (long) len > b.limit() || len > maxRecordBytes) {
            throw new InvalidFileException("teacher cache " + file + ": entry " + entry + " runs past its mapped segment");
        }
        CRC32 c = new CRC32();
        c.update(b.duplicate().position(base).limit(base + len));
        if ((int) c.getValue() != crc) {
            throw new InvalidFileException("teacher cache " + file + ": record " + entry + " (bytes " + offset + ".."
                    + (offset + len) + ") fails its checksum (the file is corrupt)");
        }
        if (v2) {
            RecordCodec.decodeV2(b, base, base + len, n, k, header.vocabSize(), header.valueType(), ids, logProbs, idsAt, rest, restAt, floor,
                    "teacher cache " + file + ": record " + entry);
            return;
        }
        for (int t = 0; t < n; t++) {
            int p = base + (int) (t * stride);
            int o = idsAt + t * k;
            for (int j = 0; j < k; j++) {
                int q = p + j * idBytes;
                long id = switch (idBytes) {
                    case 1 -> Byte.toUnsignedInt(b.get(q));
                    case 2 -> Short.toUnsignedInt(b.getShort(q));
                    default -> Integer.toUnsignedLong(b.getInt(q));
                };
                if (id >= header.vocabSize()) {
                    throw new InvalidFileException("teacher cache " + file + ": record " + entry + " holds token id " + id
                            + ", outside the vocabulary of " + header.vocabSize());
                }
                ids[o + j] = id;
            }
            int v = p + k * idBytes;
            for (int j = 0; j <= k; j++) {
                float x = half ? CacheFormat.fromHalf(b.getShort(v + j * vb)) : b.getFloat(v + j * vb);
                if (Float.isNaN(x)) {
                    throw new InvalidFileException("teacher cache " + file + ": record " + entry + " holds NaN at position " + t);
                }
                x = Math.max(x, -floor);
                if (j < k) {
                    logProbs[o + j] = x;
                } else {
                    rest[restAt + t] = x;
                }
            }
        }
    }

    /** Drops the mappings (they are released when collected). */
    @Override
    public void close() {
        closed = true;
    }

    /** Builds the error messages. */
    private record Problems(Path file) {
        IOException bad(String what) {
            return new InvalidFileException("teacher cache " + file + ": " + what);
        }
    }
}
