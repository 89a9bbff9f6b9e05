package org.distillery.teachers.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.zip.CRC32;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Format version 2's record codec against a direct computation, on synthetic log-probabilities. */
class RecordCodecTest {

    @TempDir
    Path dir;

    /** {@code n} rows of a log-softmax over {@code vocab} ids: a peaked head over noise. */
    private static float[] logSoftmaxRows(int n, int vocab, long seed) {
        Random r = new Random(seed);
        float[] lp = new float[n * vocab];
        for (int t = 0; t < n; t++) {
            double max = Double.NEGATIVE_INFINITY;
            double[] z = new double[vocab];
            for (int v = 0; v < vocab; v++) {
                z[v] = r.nextGaussian() * 2 + (r.nextInt(50) == 0 ? 8 : 0);
                max = Math.max(max, z[v]);
            }
            double sum = 0;
            for (int v = 0; v < vocab; v++) {
                sum += Math.exp(z[v] - max);
            }
            for (int v = 0; v < vocab; v++) {
                lp[t * vocab + v] = (float) (z[v] - max - Math.log(sum));
            }
        }
        return lp;
    }

    /**
     * {@code n} rows whose large log-probabilities sit on small ids, as a language model's top-k do in a
     * BPE vocabulary (frequent tokens get small ids): a Zipf prior over the ids plus noise.
     */
    private static float[] clusteredRows(int n, int vocab, long seed) {
        float[] lp = logSoftmaxRows(n, vocab, seed);
        for (int t = 0; t < n; t++) {
            for (int v = 0; v < vocab; v++) {
                lp[t * vocab + v] -= (float) (3 * Math.log(v + 1));
            }
        }
        return lp;
    }

    private static double roundTrip(int vocab, int k, int n, long seed, ValueType vt) throws IOException {
        return roundTrip(logSoftmaxRows(n, vocab, seed), vocab, k, n, vt);
    }

    /** Encodes and decodes {@code lp}, checks ids and values; returns the bytes per entry. */
    private static double roundTrip(float[] lp, int vocab, int k, int n, ValueType vt) throws IOException {
        ByteBuffer rec = RecordCodec.encode(lp, n, vocab, k, 0, vt);
        int len = rec.remaining();
        assertEquals(len, RecordCodec.v2Length(rec, 0, len, n, k, vt, "test"));
        long[] ids = new long[n * k];
        float[] got = new float[n * k];
        float[] rest = new float[n];
        RecordCodec.decodeV2(rec, 0, len, n, k, vocab, vt, ids, got, 0, rest, 0, 1e4f, "test");
        int maxCode = vt == ValueType.Q4 ? 15 : 255;
        int[] top = new int[k];
        for (int t = 0; t < n; t++) {
            RecordCodec.topK(lp, t * vocab, vocab, k, top);
            long[] wantIds = Arrays.stream(top).asLongStream().sorted().toArray();
            long[] gotIds = Arrays.copyOfRange(ids, t * k, (t + 1) * k);
            Arrays.sort(gotIds);
            assertArrayEquals(wantIds, gotIds, "vocab " + vocab + " position " + t);
            float best = lp[t * vocab + top[0]];
            for (int j = 0; j < k; j++) {
                int id = (int) ids[t * k + j];
                double gap = best - lp[t * vocab + id];
                double err = Math.abs(got[t * k + j] - lp[t * vocab + id]);
                int code = RecordCodec.gapCode(gap, vt);
                double halfStep = (RecordCodec.gapOf(Math.min(maxCode, code + 1), vt) - RecordCodec.gapOf(
                        Math.max(0, code - 1), vt)) / 2.0 + Math.abs(best) * 0x1p-11;
                assertTrue(gap >= RecordCodec.gapOf(maxCode, vt) || err <= halfStep + 1e-6,
                        vt + " vocab " + vocab + ": error " + err + " at gap " + gap);
                if (j > 0) {
                    assertTrue(got[t * k + j] <= got[t * k + j - 1]);
                }
            }
        }
        return (double) len / ((long) n * k);
    }

    @Test
    void roundTripsAcrossVocabularySizes() throws IOException {
        for (ValueType vt : new ValueType[] {ValueType.Q8, ValueType.Q4}) {
            roundTrip(259, 32, 50, 1, vt);
            roundTrip(259, 1, 20, 2, vt);
            roundTrip(300, 300, 3, 3, vt); // k = vocab: no rest mass
            roundTrip(259, 7, 5, 8, vt); // odd k: q4's last byte holds one code
            roundTrip(32_000, 32, 10, 4, vt);
            roundTrip(151_936, 32, 4, 5, vt);
            roundTrip(1 << 20, 8, 2, 6, vt); // ids above 2^16 and gaps with long unary runs
        }
    }

    /** Clustered small ids: q4's exponential-Golomb codes take them in fewer bits than Rice codes would. */
    @Test
    void q4CodesClusteredIdsInUnderTwoBytesAnEntry() throws IOException {
        int vocab = 151_936;
        int n = 6;
        float[] lp = clusteredRows(n, vocab, 9);
        double q4 = roundTrip(lp, vocab, 32, n, ValueType.Q4);
        double spread = roundTrip(151_936, 32, n, 5, ValueType.Q4);
        assertTrue(q4 < 2 && q4 < spread, "clustered " + q4 + " bytes/entry, spread evenly " + spread);
        int[] top = new int[32];
        RecordCodec.topK(lp, 0, vocab, 32, top);
        Arrays.sort(top);
        int g = RecordCodec.golombOrder(top, 32);
        assertTrue(RecordCodec.golombBits(top, 32, g) < RecordCodec.riceBits(top, 32, RecordCodec.riceParameter(top, 32)),
                "ids " + Arrays.toString(top));
    }
    @Test
    void gapCodesAreMonotoneAndFineNearTheTop() {
        for (int c = 1; c < 256; c++) {
            assertTrue(RecordCodec.gapOf(c) > RecordCodec.gapOf(c - 1));
        }
        assertEquals(0, RecordCodec.gapCode(0));
        assertEquals(0, RecordCodec.gapCode(-1e-7), "rounding below the top-1 is the top-1");
        assertEquals(255, RecordCodec.gapCode(Double.POSITIVE_INFINITY));
        assertEquals(255, RecordCodec.gapCode(100));
        assertEquals(32, RecordCodec.gapCode(0.5));
        assertTrue(RecordCodec.gapOf(33) - RecordCodec.gapOf(32) < 0.035, "about 0.03 nats apart at a gap of 0.5");
        assertEquals(65025f / 2048, RecordCodec.MAX_GAP, 1e-6);
        for (int c = 1; c < 16; c++) {
            assertTrue(RecordCodec.gapOf(c, ValueType.Q4) > RecordCodec.gapOf(c - 1, ValueType.Q4));
        }
        assertEquals(15, RecordCodec.gapCode(Double.POSITIVE_INFINITY, ValueType.Q4));
        assertEquals(0, RecordCodec.gapCode(0.01, ValueType.Q4));
        assertEquals(12f, RecordCodec.gapOf(15, ValueType.Q4), 1e-5);
        assertEquals(0.229f, RecordCodec.gapOf(1, ValueType.Q4), 1e-3);
        assertEquals(2, RecordCodec.gapCode(0.5, ValueType.Q4), "0.49 is the nearest level");
        assertEquals(15, RecordCodec.gapCode(11.5, ValueType.Q4));
    }

    @Test
    void autoTakesQ8ForSmallVocabulariesAndQ4AboveThem() {
        assertEquals(ValueType.Q8, ValueType.parse("auto", 259));
        assertEquals(ValueType.Q8, ValueType.parse("AUTO", ValueType.AUTO_Q8_MAX_VOCABULARY));
        assertEquals(ValueType.Q4, ValueType.parse(" auto", ValueType.AUTO_Q8_MAX_VOCABULARY + 1));
        assertEquals(ValueType.Q4, ValueType.parse("auto", 151_936));
        assertEquals(ValueType.FP16, ValueType.parse("fp16", 151_936), "an explicit type stays");
        assertTrue(ValueType.valid("q4") && ValueType.valid("auto"));
        assertTrue(!ValueType.valid("q3") && !ValueType.valid(""));
        // q8 within 2 bytes an entry up to the threshold even for ids spread evenly: log2(V / 32) + 1.4 + 8 + 1 bits
        double bits = Math.log(ValueType.AUTO_Q8_MAX_VOCABULARY / 32.0) / Math.log(2) + 1.4 + 8 + 1;
        assertTrue(bits <= 16, bits + " bits");
    }

    @Test
    void riceParameterMinimisesTheBits() {
        int[] dense = new int[32];
        for (int j = 0; j < 32; j++) {
            dense[j] = j;
        }
        assertEquals(0, RecordCodec.riceParameter(dense, 32), "consecutive ids: gaps of 0");
        int[] spread = new int[32];
        for (int j = 0; j < 32; j++) {
            spread[j] = j * 1000;
        }
        int r = RecordCodec.riceParameter(spread, 32);
        assertTrue(r >= 8 && r <= 10, "gaps of 999: r = " + r);
    }

    @Test
    void malformedRecordsFailClearly() throws IOException {
        float[] lp = logSoftmaxRows(2, 259, 7);
        ByteBuffer rec = RecordCodec.encode(lp, 2, 259, 8, 0, ValueType.Q8);
        ValueType vt = ValueType.Q8;
        int len = rec.remaining();
        long[] ids = new long[16];
        float[] v = new float[16];
        float[] rest = new float[2];
        IOException e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(rec, 0, len - 1, 2, 8, 259, vt, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().startsWith("rec ends inside"), e.getMessage());
        e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(rec, 0, len, 2, 8, 20, vt, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("outside the vocabulary of 20"), e.getMessage());
        ByteBuffer nan = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN).put(rec.duplicate()).flip();
        nan.putShort(0, (short) 0x7e00);
        e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(nan, 0, len, 2, 8, 259, vt, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        ByteBuffer badRice = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN).put(rec.duplicate()).flip();
        badRice.put(4 + 8, (byte) 0x1f); // r = 31
        e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(badRice, 0, len, 2, 8, 1 << 30, vt, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("Rice parameter 31"), e.getMessage());
        // q4: codes take 4 bytes for k = 8, then the mode bit and the parameter
        ByteBuffer q4 = RecordCodec.encode(clusteredRows(2, 1 << 20, 7), 2, 1 << 20, 8, 0, ValueType.Q4);
        ByteBuffer badOrder = ByteBuffer.allocate(q4.remaining()).order(ByteOrder.LITTLE_ENDIAN).put(q4.duplicate())
                .flip();
        badOrder.put(4 + 4, (byte) (1 | 0x1f << 1)); // exponential-Golomb, order 31
        e = assertThrows(IOException.class, () -> RecordCodec.decodeV2(badOrder, 0, badOrder.limit(), 2, 8, 1 << 20,
                ValueType.Q4, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("exponential-Golomb order 31"), e.getMessage());
        e = assertThrows(IOException.class, () -> RecordCodec.decodeV2(q4, 0, q4.remaining(), 2, 8, 200, ValueType.Q4,
                ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("outside the vocabulary of 200"), e.getMessage());
    }

    /** A version 2 file of synthetic records through the assembler, then damaged in its index. */
    @Test
    void malformedVersion2FilesFailClearly() throws IOException {
        int vocab = 259;
        int k = 8;
        Path f = dir.resolve("q8.cache");
        TeacherCacheAssembler.Spec spec = new TeacherCacheAssembler.Spec(k, vocab, ValueType.Q8, 16, 3, 3, 3 + 5 + 7,
                0, 8, new TeacherIdentity("teacher", "0".repeat(64)), "tok", "data.jsonl", "");
        try (TeacherCacheAssembler a = TeacherCacheAssembler.create(f, spec)) {
            int key = 1;
            for (int n : new int[] {7, 5, 3}) {
                a.append(key++, n, TeacherCacheAssembler.encodeRecord(logSoftmaxRows(n, vocab, n), n, vocab, k,
                        ValueType.Q8));
            }
            IllegalStateException tooMany = assertThrows(IllegalStateException.class, () -> a.append(9, 1,
                    TeacherCacheAssembler.encodeRecord(logSoftmaxRows(1, vocab, 1), 1, vocab, k, ValueType.Q8)));
            assertTrue(tooMany.getMessage().contains("more records"), tooMany.getMessage());
            a.finish();
            assertEquals(Files.size(f), a.header().fileBytes());
        }
        try (TeacherCacheReader r = TeacherCacheReader.open(f)) {
            assertEquals(15, r.header().positions());
            for (int e = 0; e < 3; e++) {
                int n = r.positions(e);
                r.read(e, n, new long[n * k], new float[n * k], 0, new float[n], 0, 1e4f);
            }
        }
        byte[] all = Files.readAllBytes(f);
        ByteBuffer head = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        int headerBytes = head.getInt(12);
        // entry 0's length one byte short: the records no longer tile the data region
        String tiling = openError(damaged(all, b -> b.putInt(headerBytes + 24, b.getInt(headerBytes + 24) - 1)));
        assertTrue(tiling.contains("gap") || tiling.contains("overlap") || tiling.contains("end at byte"), tiling);
        String shortRecord = openError(damaged(all, b -> b.putInt(headerBytes + 24, 1)));
        assertTrue(shortRecord.contains("too short"), shortRecord);
        // the records' assembler refuses a record whose bytes are not its positions
        try (TeacherCacheAssembler a = TeacherCacheAssembler.create(dir.resolve("x.cache"), spec)) {
            ByteBuffer rec = TeacherCacheAssembler.encodeRecord(logSoftmaxRows(7, vocab, 7), 7, vocab, k, ValueType.Q8);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.append(1, 6, rec));
            assertTrue(e.getMessage().contains("record 0"), e.getMessage());
        }
        assertTrue(Files.notExists(dir.resolve("x.cache")) && Files.notExists(dir.resolve("x.cache.tmp")));
    }

    private Path damaged(byte[] all, java.util.function.Consumer<ByteBuffer> edit) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(all.clone()).order(ByteOrder.LITTLE_ENDIAN);
        edit.accept(b);
        int headerBytes = b.getInt(12);
        int records = b.getInt(32);
        CRC32 idx = new CRC32();
        idx.update(b.array(), headerBytes, records * CacheFormat.INDEX_ENTRY_V2);
        b.putInt(headerBytes - 8, (int) idx.getValue());
        CRC32 h = new CRC32();
        h.update(b.array(), 0, headerBytes - 4);
        b.putInt(headerBytes - 4, (int) h.getValue());
        Path f = Files.createTempFile(dir, "damaged", ".cache");
        Files.write(f, b.array());
        return f;
    }

    private static String openError(Path f) {
        IOException e = assertThrows(IOException.class, () -> TeacherCacheReader.open(f).close());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        return e.getMessage();
    }
}
