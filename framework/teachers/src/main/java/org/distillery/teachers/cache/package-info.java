/**
 * The teacher cache: the teacher's top-k next-token log-probabilities, plus the log of the mass
 * outside the top k, for every position of a tokenised dataset, computed once
 * ({@link org.distillery.teachers.cache.TeacherCacheWriter}, {@code distill teacher cache}) and
 * read back by memory mapping ({@link org.distillery.teachers.cache.TeacherCacheReader}) through the
 * {@code teacher.cached} teacher ({@link org.distillery.teachers.cache.CachedTeacher}).
 *
 * <h2>File format, versions 1 and 2</h2>
 *
 * All integers little-endian. Three regions: header, index, records. Version 1 (value types fp16 and
 * fp32) stores every position at a fixed stride; version 2 (value types q8 and q4, which
 * {@code distill teacher cache --dtype auto}, the default, picks by the teacher's vocabulary: q8 up to
 * 1536 ids) stores positions compactly and at varying lengths. Readers read both.
 *
 * <pre>
 * header
 *   0   8  magic "DSTLKDTC"
 *   8   4  u32 version: 1 or 2
 *   12  4  u32 header bytes (= offset of the index)
 *   16  4  u32 k (top entries per position)
 *   20  4  u32 vocabulary size of the teacher's logits
 *   24  1  u8  bytes per token id: 1 (vocab &lt;= 256), 2 (&lt;= 65536) or 4, unsigned; 0 in version 2
 *   25  1  u8  value type: 1 = IEEE fp16, 2 = fp32 (version 1); 3 = q8, 4 = q4 (version 2)
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
 * index: one entry per record (24 bytes in version 1, 32 in version 2), sorted by hash (signed
 *   64-bit order), no duplicates
 *   0   8  hash: the first 8 bytes (big-endian) of SHA-256 over the sequence's token ids, each a u32 LE
 *   8   8  u64 file offset of the record
 *   16  4  u32 positions (= tokens - 1)
 *   20  4  u32 CRC-32 of the record's bytes
 *   24  4  u32 the record's bytes (version 2 only; records tile the data region in storage order)
 *   28  4  reserved, 0 (version 2 only)
 * records, version 1: per position t (which predicts token t+1 of the sequence, the input positions of
 *   Records.batch), k token ids (id bytes each), their k log-probabilities, then the log of the
 *   remaining mass (value bytes each), the top k in descending order of probability (ties by id).
 * records, version 2, q8: per position t
 *   0   2  fp16 log-probability of the top-1
 *   2   2  fp16 log of the remaining mass
 *   4   k  u8 codes c, one per entry in increasing order of id: the entry's log-probability is the
 *          top-1's minus c * c / 2048 (codes round the square root; 255 holds every gap from 31.75
 *          nats, and log 0)
 *   4+k ..  the ids, increasing, as a bit stream (least significant bit first within each byte):
 *          5 bits r, then for each id the gap g = id - previous id - 1 (previous of the first = -1)
 *          as g &gt;&gt; r one bits, a zero bit and the low r bits of g (Rice coding, r chosen per
 *          position to minimise the bits); padded with zero bits to a whole byte
 * records, version 2, q4: per position t
 *   0   2  fp16 log-probability of the top-1
 *   2   2  fp16 log of the remaining mass
 *   4   (k+1)/2  4-bit codes c, one per entry in increasing order of id, two a byte (low nibble
 *          first): the entry's log-probability is the top-1's minus 12 (e^(0.15 c) - 1) / (e^2.25 - 1)
 *          (codes are the nearest level; 15 holds every gap from 12 nats, and log 0)
 *   ..  ..  the ids, increasing, as a bit stream as q8's, except that it starts with a mode bit m
 *          before the 5 bits r: m = 0, Rice codes as q8's; m = 1, exponential-Golomb codes of order
 *          r (at most 15): q = (g &gt;&gt; r) + 1 of e + 1 bits as e one bits, a zero bit and q's low
 *          e bits, then g's low r bits; the shorter of the two per position (Rice on a tie)
 *   a reader returns the entries in descending order of probability (ties by id), as version 1's.
 * </pre>
 *
 * A version 1 position takes {@code k * (idBytes + valueBytes) + valueBytes} bytes: with k = 32, a
 * vocabulary of at most 65,536 ids and fp16 values, <b>130 bytes per token</b> (98 with at most 256
 * ids, 194 with more than 65,536, 196 with fp32 values and 2-byte ids), against DistillKit's ~300; plus 24 bytes
 * of index per sequence and the header. Log-probabilities in fp16 keep about 3 decimal digits
 * (relative error &lt;= 2^-11); losses renormalise the k+1 bins anyway. A version 2 position takes
 * {@code 4 + k} bytes plus the id stream, about {@code k * (2 + log2(vocab / k)) / 8} bytes when the
 * top-k ids are spread evenly over the vocabulary (fewer when they cluster): with k = 32 and 259 ids about
 * 1.7 bytes per entry; the gap codes are within 0.016 nats of the value at a gap of 0.5 nats, 0.03 at 2,
 * 0.06 at 8 ({@code distill bench cache} prints the sizes, errors and decode speed). A q4 position
 * takes {@code 4 + k / 2} bytes plus its id stream: 1.07 bytes per entry with k = 32 on the embedded
 * teacher's 259 ids, and 1.8 to 1.9 on bigram teachers of the real BPE vocabularies of 50k to 200k ids
 * ({@code BpeVocabularySizeTest}), whose top-k ids, like a language model's, gather on frequent tokens,
 * which BPE numbers first; spread evenly over 200k ids they take 2.4.
 *
 * <p>A file is written beside its target and renamed over it, so a reader sees the old cache or
 * the new one. Every inconsistency a reader can see (magic, version, sizes, truncation, index
 * offsets and order, checksums) fails with an {@link java.io.IOException} naming the file and
 * the problem.
 */
package org.distillery.teachers.cache;
