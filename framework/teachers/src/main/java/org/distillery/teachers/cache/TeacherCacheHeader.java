package org.distillery.teachers.cache;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32;

/**
 * The header of a teacher cache (see {@code package-info.java} for the byte layout).
 *
 * @param version format version
 * @param k top entries per position
 * @param vocabSize vocabulary size of the teacher's logits
 * @param idBytes bytes per stored token id (1, 2 or 4); 0 in version 2, whose ids are Rice-coded
 * @param valueType how log-probabilities are stored
 * @param maxLength the max-length the dataset was tokenised with
 * @param records distinct token sequences (index entries)
 * @param examples records of the dataset file, duplicates included
 * @param positions positions stored, summed over records
 * @param dataOffset file offset of the first record
 * @param fileBytes total file size
 * @param atMaxLength sequences that reach max-length (and so may have been cut)
 * @param longest tokens of the longest sequence
 * @param teacher the teacher's folder and weights hash
 * @param tokenizerFingerprint the tokenizer's {@code fingerprint()}
 * @param dataset the dataset file as given to the writer
 * @param datasetSha256 SHA-256 of the dataset file, or empty
 */
public record TeacherCacheHeader(int version, int k, int vocabSize, int idBytes, ValueType valueType, int maxLength,
                                 int records, int examples, long positions, long dataOffset, long fileBytes,
                                 int atMaxLength, int longest, TeacherIdentity teacher, String tokenizerFingerprint,
                                 String dataset, String datasetSha256) {

    /**
     * Bytes of one position in version 1: k ids, k log-probabilities, the rest log-mass; 0 in version 2,
     * where positions differ in length ({@link #recordBytesPerToken()}).
     */
    public long positionBytes() {
        return version == CacheFormat.VERSION_2 ? 0 : CacheFormat.stride(k, idBytes, valueType.bytes());
    }

    /** Bytes of the records per stored position (no index, no header). */
    public double recordBytesPerToken() {
        return positions == 0 ? 0 : (double) (fileBytes - dataOffset) / positions;
    }

    /** Bytes of the records per top-k entry, each position's rest log-mass and overhead shared among its k. */
    public double bytesPerEntry() {
        return positions == 0 ? 0 : (double) (fileBytes - dataOffset) / ((double) positions * k);
    }

    /** Bytes of one index entry. */
    int indexEntryBytes() {
        return CacheFormat.indexEntry(version);
    }

    /** How entries are stored, e.g. {@code fp16 log-probabilities, 2-byte ids}. */
    public String encoding() {
        if (valueType == ValueType.Q8) {
            return "q8: fp16 top-1, 8-bit gaps to it, Rice-coded ids (format 2)";
        }
        if (valueType == ValueType.Q4) {
            return "q4: fp16 top-1, 4-bit gaps to it, Rice- or exponential-Golomb-coded ids (format 2)";
        }
        return valueType.name().toLowerCase(java.util.Locale.ROOT) + " log-probabilities, " + idBytes
                + "-byte ids (format 1)";
    }

    /** Whole-file bytes per stored position (header and index included). */
    public double bytesPerToken() {
        return positions == 0 ? 0 : (double) fileBytes / positions;
    }

    private String[] strings() {
        return new String[] {teacher.modelDir(), teacher.weightsSha256(), tokenizerFingerprint, dataset, datasetSha256};
    }

    /** Header bytes for these strings. */
    int encodedSize() {
        int n = CacheFormat.FIXED_HEADER + 8;
        for (String s : strings()) {
            n += 2 + s.getBytes(StandardCharsets.UTF_8).length;
        }
        return n;
    }

    /** The header bytes, ending with the index CRC and the header CRC. */
    ByteBuffer encode(int indexCrc) {
        ByteBuffer b = ByteBuffer.allocate(encodedSize()).order(ByteOrder.LITTLE_ENDIAN);
        b.put(CacheFormat.MAGIC).putInt(version).putInt(encodedSize()).putInt(k).putInt(vocabSize)
                .put((byte) idBytes).put((byte) valueType.code()).putShort((short) 0).putInt(maxLength)
                .putInt(records).putInt(examples).putLong(positions).putLong(dataOffset).putLong(fileBytes)
                .putInt(atMaxLength).putInt(longest);
        for (String s : strings()) {
            byte[] u = s.getBytes(StandardCharsets.UTF_8);
            if (u.length > CacheFormat.MAX_STRING) {
                throw new IllegalArgumentException("header string longer than 65535 bytes: " + s.substring(0, 80) + "...");
            }
            b.putShort((short) u.length).put(u);
        }
        b.putInt(indexCrc);
        CRC32 crc = new CRC32();
        crc.update(b.array(), 0, b.position());
        b.putInt((int) crc.getValue());
        return b.flip();
    }
}
