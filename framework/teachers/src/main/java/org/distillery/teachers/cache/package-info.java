/**
 * The teacher cache: the teacher's top-k next-token log-probabilities, plus the log of the mass
 * outside the top k, for every position of a tokenised dataset, computed once
 * ({@link org.distillery.teachers.cache.TeacherCacheWriter}, {@code distill teacher cache}) and
 * read back by memory mapping ({@link org.distillery.teachers.cache.TeacherCacheReader}) through the
 * {@code teacher.cached} teacher ({@link org.distillery.teachers.cache.CachedTeacher}).
 *
 * <h2>File format, version 1</h2>
 *
 * All integers little-endian. Three regions: header, index, records.
 *
 * <pre>
 * header
 *   0   8  magic "DSTLKDTC"
 *   8   4  u32 version = 1
 *   12  4  u32 header bytes (= offset of the index)
 *   16  4  u32 k (top entries per position)
 *   20  4  u32 vocabulary size of the teacher's logits
 *   24  1  u8  bytes per token id: 1 (vocab &lt;= 256), 2 (&lt;= 65536) or 4; unsigned
 *   25  1  u8  value type: 1 = IEEE fp16, 2 = fp32
 *   26  2  reserved, 0
 *   28  4  u32 max-length the dataset was tokenised with (Records.encode)
 *   32  4  u32 records (distinct token sequences, = index entries)
 *   36  4  u32 examples (records of the dataset file, duplicates included)
 *   40  8  u64 positions (sum of the records' positions)
 *   48  8  u64 offset of the first record
 *   56  8  u64 file bytes
 *   64  4  u32 sequences that reach max-length (and so may have been cut)
 *   68  4  u32 longest sequence, in tokens
 *   72  ..  five strings, each u16 byte length + UTF-8: teacher model folder, SHA-256 of the
 *           teacher's weights file(s), tokenizer fingerprint, dataset file, SHA-256 of the dataset file
 *   ..  4  u32 CRC-32 of the index
 *   ..  4  u32 CRC-32 of the header bytes before this field
 * index: one 24-byte entry per record, sorted by hash (signed 64-bit order), no duplicates
 *   0   8  hash: the first 8 bytes (big-endian) of SHA-256 over the sequence's token ids, each a u32 LE
 *   8   8  u64 file offset of the record
 *   16  4  u32 positions (= tokens - 1)
 *   20  4  u32 CRC-32 of the record's bytes
 * records: per position t (which predicts token t+1 of the sequence, the input positions of
 *   Records.batch), k token ids (id bytes each), their k log-probabilities, then the log of the
 *   remaining mass (value bytes each), the top k in descending order of probability (ties by id).
 * </pre>
 *
 * A position takes {@code k * (idBytes + valueBytes) + valueBytes} bytes: with k = 32, a
 * vocabulary of at most 65,536 ids and fp16 values, <b>130 bytes per token</b> (98 with at most 256
 * ids, 194 with more than 65,536, 196 with fp32 values and 2-byte ids), against DistillKit's ~300; plus 24 bytes
 * of index per sequence and the header. Log-probabilities in fp16 keep about 3 decimal digits
 * (relative error &lt;= 2^-11); losses renormalise the k+1 bins anyway.
 *
 * <p>A file is written beside its target and renamed over it, so a reader sees the old cache or
 * the new one. Every inconsistency a reader can see (magic, version, sizes, truncation, index
 * offsets and order, checksums) fails with an {@link java.io.IOException} naming the file and
 * the problem.
 */
package org.distillery.teachers.cache;
