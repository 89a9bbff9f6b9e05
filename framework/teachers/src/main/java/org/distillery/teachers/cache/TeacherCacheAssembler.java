package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.CRC32;

import org.distillery.kit.io.AtomicFiles;

/**
 * Writes a teacher cache from records computed elsewhere (by another process or machine), in
 * exactly the format {@link TeacherCacheWriter} writes (which writes through this class): the caller supplies the header's facts
 * up front, then the encoded records in storage order ({@link #append}); {@link #finish} writes
 * the index and the header in front of the records and renames the file over its target. Records
 * are encoded with {@link #encodeRecord} (the writer's own encoder) and keyed with
 * {@link #sequenceKey}, so a cache assembled from the same sequences in the same order, with
 * the same log-probabilities, is byte for byte the file {@link TeacherCacheWriter} writes.
 *
 * <p>The writer's storage order is: distinct sequences (first appearance kept), longest first,
 * ties by first appearance in the dataset; its teacher batches are consecutive runs of
 * {@code batch-size} sequences in that order.
 */
public final class TeacherCacheAssembler implements AutoCloseable {

    /**
     * What the header records (see {@link TeacherCacheHeader}).
     *
     * @param k top entries per position
     * @param vocabSize the teacher's vocabulary
     * @param valueType how log-probabilities are stored
     * @param maxLength the max-length the dataset was tokenised with
     * @param records distinct sequences
     * @param examples records of the dataset, duplicates included
     * @param positions positions of all distinct sequences
     * @param atMaxLength sequences that reach max-length
     * @param longest tokens of the longest sequence
     * @param teacher the teacher's folder and weights hash
     * @param tokenizerFingerprint the tokenizer's fingerprint
     * @param dataset the dataset as named in the header
     * @param datasetSha256 SHA-256 of the dataset, or empty
     */
    public record Spec(int k, int vocabSize, ValueType valueType, int maxLength, int records, int examples,
                       long positions, int atMaxLength, int longest, TeacherIdentity teacher,
                       String tokenizerFingerprint, String dataset, String datasetSha256) {
    }

    private final Path target;
    private final Path tmp;
    private final FileChannel channel;
    private final Spec spec;
    private TeacherCacheHeader header;
    private final long stride;
    private final long[] hashes;
    private final long[] offsets;
    private final int[] positions;
    private final int[] crcs;
    private final int[] lengths;
    private int appended;
    private long position;
    private boolean finished;

    private TeacherCacheAssembler(Path target, Path tmp, FileChannel channel, Spec spec, TeacherCacheHeader header) {
        this.target = target;
        this.tmp = tmp;
        this.channel = channel;
        this.spec = spec;
        this.header = header;
        this.stride = header.positionBytes();
        this.hashes = new long[header.records()];
        this.offsets = new long[header.records()];
        this.positions = new int[header.records()];
        this.crcs = new int[header.records()];
        this.lengths = new int[header.records()];
        this.position = header.dataOffset();
    }

    /** Starts {@code out} (written beside it as {@code <name>.tmp} until {@link #finish}). */
    public static TeacherCacheAssembler create(Path out, Spec s) throws IOException {
        if (s.k() < 1 || s.k() > s.vocabSize()) {
            throw new IllegalArgumentException("k = " + s.k() + " must be in 1.." + s.vocabSize());
        }
        int idBytes = CacheFormat.idBytes(s.valueType(), s.vocabSize());
        int version = CacheFormat.version(s.valueType());
        TeacherCacheHeader probe = header(s, idBytes, 0, 0);
        long dataOffset = probe.encodedSize() + (long) s.records() * CacheFormat.indexEntry(version);
        // version 1's size is known now; version 2's once every record is in (finish)
        long fileBytes = version == CacheFormat.VERSION_2 ? 0
                : dataOffset + s.positions() * CacheFormat.stride(s.k(), idBytes, s.valueType().bytes());
        TeacherCacheHeader header = header(s, idBytes, dataOffset, fileBytes);
        Path abs = out.toAbsolutePath();
        Files.createDirectories(abs.getParent());
        Path tmp = abs.resolveSibling(abs.getFileName() + ".tmp");
        FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE);
        return new TeacherCacheAssembler(abs, tmp, ch, s, header);
    }

    private static TeacherCacheHeader header(Spec s, int idBytes, long dataOffset, long fileBytes) {
        return new TeacherCacheHeader(CacheFormat.version(s.valueType()), s.k(), s.vocabSize(), idBytes, s.valueType(), s.maxLength(),
                s.records(), s.examples(), s.positions(), dataOffset, fileBytes, s.atMaxLength(), s.longest(),
                s.teacher(), s.tokenizerFingerprint(), s.dataset(), s.datasetSha256());
    }

    /**
     * The header the file will have (a version 2 file's size is known once {@link #finish} has run; 0
     * before).
     */
    public TeacherCacheHeader header() {
        return header;
    }

    /**
     * Appends the next record in storage order.
     *
     * @param key the sequence's {@link #sequenceKey}
     * @param recordPositions the sequence's positions (tokens - 1)
     * @param record its bytes, as {@link #encodeRecord} made them
     */
    public void append(long key, int recordPositions, ByteBuffer record) throws IOException {
        if (appended == hashes.length) {
            throw new IllegalStateException("more records than the " + hashes.length + " announced");
        }
        if (header.version() == CacheFormat.VERSION_2) {
            checkV2(record, recordPositions);
        } else if (record.remaining() != recordPositions * stride) {
            throw new IllegalArgumentException("record " + appended + " has " + record.remaining() + " bytes, "
                    + recordPositions + " positions need " + recordPositions * stride);
        }
        CRC32 crc = new CRC32();
        crc.update(record.duplicate());
        hashes[appended] = key;
        offsets[appended] = position;
        positions[appended] = recordPositions;
        crcs[appended] = (int) crc.getValue();
        lengths[appended] = record.remaining();
        position += writeAt(record.duplicate(), position);
        appended++;
    }

    /** Writes all of {@code b} at {@code at} (seen by the kit's write hook first); the bytes written. */
    private int writeAt(ByteBuffer b, long at) throws IOException {
        int n = b.remaining();
        try {
            AtomicFiles.beforeWrite(target, at, n);
            long p = at;
            while (b.hasRemaining()) {
                p += channel.write(b, p);
            }
        } catch (IOException e) {
            throw new IOException("cannot write " + target + ": " + e.getMessage(), e);
        }
        return n;
    }

    /** A version 2 record must hold exactly its positions. */
    private void checkV2(ByteBuffer record, int recordPositions) {
        ByteBuffer b = record.slice().order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try {
            int length = RecordCodec.v2Length(b, 0, b.remaining(), recordPositions, header.k(), header.valueType(),
                    "record " + appended);
            if (length != b.remaining()) {
                throw new IllegalArgumentException("record " + appended + " has " + b.remaining() + " bytes, its "
                        + recordPositions + " positions take " + length);
            }
        } catch (IOException e) {
            throw new IllegalArgumentException(e.getMessage() + " (" + recordPositions + " positions announced)", e);
        }
    }

    /** Writes the index and header, forces the file to disk and renames it over the target. */
    public Path finish() throws IOException {
        if (appended != hashes.length) {
            throw new IllegalStateException("got " + appended + " records, " + hashes.length + " announced");
        }
        if (header.version() == CacheFormat.VERSION_2) {
            header = header(spec, header.idBytes(), header.dataOffset(), position);
        }
        if (position != header.fileBytes()) {
            throw new IllegalStateException("wrote " + position + " bytes, planned " + header.fileBytes());
        }
        Integer[] byKey = new Integer[appended];
        for (int i = 0; i < appended; i++) {
            byKey[i] = i;
        }
        Arrays.sort(byKey, (a, b) -> Long.compare(hashes[a], hashes[b]));
        ByteBuffer index = ByteBuffer.allocate(appended * header.indexEntryBytes()).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < appended; i++) {
            int r = byKey[i];
            if (i > 0 && hashes[r] == hashes[byKey[i - 1]]) {
                throw new IllegalStateException("two records share the key " + Long.toHexString(hashes[r]));
            }
            index.putLong(hashes[r]).putLong(offsets[r]).putInt(positions[r]).putInt(crcs[r]);
            if (header.version() == CacheFormat.VERSION_2) {
                index.putInt(lengths[r]).putInt(0);
            }
        }
        index.flip();
        CRC32 indexCrc = new CRC32();
        indexCrc.update(index.duplicate());
        ByteBuffer head = header.encode((int) indexCrc.getValue());
        long p = writeAt(head, 0);
        writeAt(index, p);
        channel.force(true);
        channel.close();
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        finished = true;
        return target;
    }

    /** Abandons an unfinished file (the target is untouched). */
    @Override
    public void close() throws IOException {
        if (!finished) {
            channel.close();
            Files.deleteIfExists(tmp);
        }
    }

    /** The 64-bit index key of a token sequence, as the writer computes it. */
    public static long sequenceKey(int[] ids) {
        return CacheFormat.hash(ids, ids.length);
    }

    /**
     * Encodes one record exactly as the writer does.
     *
     * @param logProbs {@code positions x vocab} log-softmax values, row-major
     * @param recordPositions the sequence's positions
     * @param vocab the vocabulary size
     * @param k top entries per position
     * @param valueType how values are stored
     */
    public static ByteBuffer encodeRecord(float[] logProbs, int recordPositions, int vocab, int k, ValueType valueType) {
        return RecordCodec.encode(logProbs, recordPositions, vocab, k, CacheFormat.idBytes(valueType, vocab), valueType);
    }
}
