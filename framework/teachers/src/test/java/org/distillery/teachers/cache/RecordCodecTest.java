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

    private static void roundTrip(int vocab, int k, int n, long seed) throws IOException {
        float[] lp = logSoftmaxRows(n, vocab, seed);
        ByteBuffer rec = RecordCodec.encode(lp, n, vocab, k, 0, ValueType.Q8);
        int len = rec.remaining();
        assertEquals(len, RecordCodec.v2Length(rec, 0, len, n, k, "test"));
        long[] ids = new long[n * k];
        float[] got = new float[n * k];
        float[] rest = new float[n];
        RecordCodec.decodeV2(rec, 0, len, n, k, vocab, ids, got, 0, rest, 0, 1e4f, "test");
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
                double halfStep = (RecordCodec.gapOf(RecordCodec.gapCode(gap) + 1) - RecordCodec.gapOf(
                        RecordCodec.gapCode(gap))) / 2.0 + Math.abs(best) * 0x1p-11;
                assertTrue(gap >= RecordCodec.MAX_GAP || err <= halfStep + 1e-6,
                        "vocab " + vocab + ": error " + err + " at gap " + gap);
                if (j > 0) {
                    assertTrue(got[t * k + j] <= got[t * k + j - 1]);
                }
            }
        }
        double bytesPerEntry = (double) len / ((long) n * k);
        System.out.printf("q8 k=%d vocab %d (ids spread evenly): %.3f bytes/entry%n", k, vocab, bytesPerEntry);
    }

    @Test
    void roundTripsAcrossVocabularySizes() throws IOException {
        roundTrip(259, 32, 50, 1);
        roundTrip(259, 1, 20, 2);
        roundTrip(300, 300, 3, 3); // k = vocab: no rest mass
        roundTrip(32_000, 32, 10, 4);
        roundTrip(151_936, 32, 4, 5);
        roundTrip(1 << 20, 8, 2, 6); // ids above 2^16 and gaps with long unary runs
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
        int len = rec.remaining();
        long[] ids = new long[16];
        float[] v = new float[16];
        float[] rest = new float[2];
        IOException e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(rec, 0, len - 1, 2, 8, 259, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().startsWith("rec ends inside"), e.getMessage());
        e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(rec, 0, len, 2, 8, 20, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("outside the vocabulary of 20"), e.getMessage());
        ByteBuffer nan = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN).put(rec.duplicate()).flip();
        nan.putShort(0, (short) 0x7e00);
        e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(nan, 0, len, 2, 8, 259, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("NaN"), e.getMessage());
        ByteBuffer badRice = ByteBuffer.allocate(len).order(ByteOrder.LITTLE_ENDIAN).put(rec.duplicate()).flip();
        badRice.put(4 + 8, (byte) 0x1f); // r = 31
        e = assertThrows(IOException.class,
                () -> RecordCodec.decodeV2(badRice, 0, len, 2, 8, 1 << 30, ids, v, 0, rest, 0, 1e4f, "rec"));
        assertTrue(e.getMessage().contains("Rice parameter 31"), e.getMessage());
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
