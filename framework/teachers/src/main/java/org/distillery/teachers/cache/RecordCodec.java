package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Encodes and decodes the records of both format versions (layouts in {@code package-info.java}):
 * version 1 stores each position's top k ids and log-probabilities at a fixed stride; version 2
 * ({@link ValueType#Q8}, {@link ValueType#Q4}) stores the top-1 log-probability and the rest log-mass
 * in fp16, each other entry as an 8- or 4-bit gap below the top-1 on a square-root scale, and the ids
 * in increasing order as coded gaps: Rice codes for q8; for q4 Rice or exponential-Golomb codes,
 * whichever is shorter for the position, so that clustered small ids cost few bits.
 */
final class RecordCodec {

    /** Version 2's scale: a code {@code c} stands for a gap of {@code c * c / 2048} nats below the top-1. */
    static final int GAP_SCALE = 2048;
    /** The largest gap a code holds, in nats (code 255); wider gaps (and log 0) are stored as this. */
    static final float MAX_GAP = 255f * 255f / GAP_SCALE;
    /** Bits of the Rice parameter at the start of a position's id stream. */
    static final int RICE_BITS = 5;
    /** The largest Rice parameter (gaps of vocabularies up to 2^31 ids fit). */
    static final int MAX_RICE = 30;
    /** Fixed bytes of a version 2 position before its value codes: top-1 and rest, fp16. */
    static final int V2_FIXED = 4;
    /**
     * q4's levels: a code {@code c} (0..15) stands for a gap of {@code 12 (e^(0.15 c) - 1) / (e^2.25 - 1)} nats
     * below the top-1: 0, 0.23, 0.49, 0.78, ... 9.5, 12 (steps widening by e^0.15 each). Of the 16-level
     * scales tried on the embedded teacher's cache of the suite's training split (square-root scales
     * with 9.4 to 28 nats at code 15, linear ones with 12 to 20, exponential ones with 8 to 20 nats and
     * 0.05 to 0.3 per step), this one gave the smallest mean KL between the stored and the exact top-k-plus-rest
     * distribution (1.5e-3 nats against 2.5e-3 for the best square-root scale). Gaps wider than 12
     * nats (a probability below 6e-6 of the top-1's) are stored as 12.
     */
    static final float[] Q4_LEVELS = q4Levels();
    /** The largest q4 gap: wider gaps (and log 0) are stored as this. */
    static final float Q4_MAX_GAP = 12f;
    /** The largest exponential-Golomb order. */
    static final int MAX_GOLOMB = 15;
    private static final float[] Q8_GAPS = gapTable(255, GAP_SCALE);
    /** Midpoints between consecutive q4 levels: a gap's code is the number of midpoints below it. */
    private static final double[] Q4_MIDPOINTS = q4Midpoints();

    private RecordCodec() {
    }

    private static float[] q4Levels() {
        float[] t = new float[16];
        for (int c = 0; c < 16; c++) {
            t[c] = (float) (Q4_MAX_GAP * Math.expm1(0.15 * c) / Math.expm1(0.15 * 15));
        }
        return t;
    }

    private static double[] q4Midpoints() {
        double[] m = new double[15];
        for (int c = 0; c < 15; c++) {
            m[c] = ((double) Q4_LEVELS[c] + Q4_LEVELS[c + 1]) / 2;
        }
        return m;
    }

    private static float[] gapTable(int maxCode, int scale) {
        float[] t = new float[maxCode + 1];
        for (int c = 0; c <= maxCode; c++) {
            t[c] = (float) c * c / scale;
        }
        return t;
    }

    /** The q8 code of a gap of {@code gap} nats (non-negative; infinity saturates). */
    static int gapCode(double gap) {
        return gapCode(gap, ValueType.Q8);
    }

    /** The code of a gap of {@code gap} nats in a compact type (non-negative; infinity saturates). */
    static int gapCode(double gap, ValueType vt) {
        if (!(gap > 0)) {
            return 0;
        }
        if (vt == ValueType.Q4) {
            int c = 0;
            while (c < 15 && gap > Q4_MIDPOINTS[c]) {
                c++;
            }
            return c;
        }
        return (int) Math.min(255, Math.round(Math.sqrt(gap * GAP_SCALE)));
    }

    /** The gap, in nats, a q8 code stands for. */
    static float gapOf(int code) {
        return Q8_GAPS[code];
    }

    /** The gap, in nats, a code of a compact type stands for. */
    static float gapOf(int code, ValueType vt) {
        return vt == ValueType.Q4 ? Q4_LEVELS[code] : Q8_GAPS[code];
    }

    /** Bytes of a position's value codes: k for q8, k / 2 rounded up for q4 (two codes a byte, low nibble first). */
    static int codeBytes(int k, ValueType vt) {
        return vt == ValueType.Q4 ? (k + 1) / 2 : k;
    }

    /** Bits before a position's id gaps: the Rice parameter (q8); q4 puts a mode bit before it (1: exponential-Golomb). */
    private static int streamHeadBits(ValueType vt) {
        return vt == ValueType.Q4 ? 1 + RICE_BITS : RICE_BITS;
    }

    /** Bytes of a version 2 position at least: its fixed part, its codes and a stream of k one-bit gaps. */
    static int minV2PositionBytes(int k, ValueType vt) {
        return V2_FIXED + codeBytes(k, vt) + (streamHeadBits(vt) + k + 7) / 8;
    }

    /**
     * One record: per position the top k of a log-softmax row, largest first with ties by lower id,
     * and the log of the mass outside them (a log-sum-exp in double precision).
     *
     * @param lp {@code n x vocab} log-probabilities, row-major
     * @param n positions
     * @param vocab row length
     * @param k entries kept per position
     * @param idBytes bytes per id (version 1; ignored by version 2)
     * @param vt how values are stored; {@link ValueType#Q8} and {@link ValueType#Q4} write version 2
     */
    static ByteBuffer encode(float[] lp, int n, int vocab, int k, int idBytes, ValueType vt) {
        ByteArray out = new ByteArray(vt.compact() ? n * (V2_FIXED + k + k) : (int) (n
                * CacheFormat.stride(k, idBytes, vt.bytes())));
        int[] top = new int[k];
        boolean[] chosen = new boolean[vocab];
        int[] byId = new int[k];
        int[] codes = new int[k];
        BitWriter bits = new BitWriter();
        for (int t = 0; t < n; t++) {
            int base = t * vocab;
            topK(lp, base, vocab, k, top);
            float restLog = restLogMass(lp, base, vocab, k, top, chosen);
            if (!vt.compact()) {
                for (int j = 0; j < k; j++) {
                    out.putId(top[j], idBytes);
                }
                for (int j = 0; j < k; j++) {
                    out.putValue(lp[base + top[j]], vt);
                }
                out.putValue(restLog, vt);
                continue;
            }
            float best = lp[base + top[0]];
            System.arraycopy(top, 0, byId, 0, k);
            Arrays.sort(byId);
            for (int j = 0; j < k; j++) {
                codes[j] = gapCode((double) best - lp[base + byId[j]], vt);
            }
            out.putShort(CacheFormat.toHalf(best));
            out.putShort(CacheFormat.toHalf(restLog));
            if (vt == ValueType.Q4) {
                for (int j = 0; j < k; j += 2) {
                    out.put((byte) (codes[j] | (j + 1 < k ? codes[j + 1] << 4 : 0)));
                }
            } else {
                for (int j = 0; j < k; j++) {
                    out.put((byte) codes[j]);
                }
            }
            bits.reset();
            int r = riceParameter(byId, k);
            int g = vt == ValueType.Q4 ? golombOrder(byId, k) : -1;
            boolean golomb = g >= 0 && golombBits(byId, k, g) < riceBits(byId, k, r);
            if (vt == ValueType.Q4) {
                bits.write(golomb ? 1 : 0, 1);
            }
            bits.write(golomb ? g : r, RICE_BITS);
            int previous = -1;
            for (int j = 0; j < k; j++) {
                int gap = byId[j] - previous - 1;
                previous = byId[j];
                if (golomb) {
                    // exponential-Golomb of order g: q = (gap >> g) + 1 has e + 1 bits; e in unary, q's low e bits, gap's low g bits
                    long q = ((long) gap >>> g) + 1;
                    int e = 63 - Long.numberOfLeadingZeros(q);
                    bits.unary(e);
                    bits.write(q, e);
                } else {
                    bits.unary(gap >>> r);
                }
                int low = golomb ? g : r;
                bits.write(gap & ((1 << low) - 1), low);
            }
            bits.flushTo(out);
        }
        return out.toBuffer();
    }

    /** The log of the mass outside {@code top}, in double precision; {@code -inf} when there is none. */
    private static float restLogMass(float[] lp, int base, int vocab, int k, int[] top, boolean[] chosen) {
        double restMax = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < k; j++) {
            chosen[top[j]] = true;
        }
        for (int v = 0; v < vocab; v++) {
            if (!chosen[v]) {
                restMax = Math.max(restMax, lp[base + v]);
            }
        }
        double rest = 0;
        if (restMax != Double.NEGATIVE_INFINITY) {
            for (int v = 0; v < vocab; v++) {
                if (!chosen[v]) {
                    rest += Math.exp(lp[base + v] - restMax);
                }
            }
        }
        for (int j = 0; j < k; j++) {
            chosen[top[j]] = false;
        }
        return restMax == Double.NEGATIVE_INFINITY ? Float.NEGATIVE_INFINITY : (float) (restMax + Math.log(rest));
    }

    /** The Rice parameter that codes the gaps of increasing ids in the fewest bits (the smallest such). */
    static int riceParameter(int[] sortedIds, int k) {
        return fewestBits(MAX_RICE, r -> riceBits(sortedIds, k, r));
    }

    /** Bits of the gaps of increasing ids as Rice codes with parameter {@code r}. */
    static long riceBits(int[] sortedIds, int k, int r) {
        long total = 0;
        int previous = -1;
        for (int j = 0; j < k; j++) {
            int gap = sortedIds[j] - previous - 1;
            previous = sortedIds[j];
            total += (gap >>> r) + 1 + r;
        }
        return total;
    }

    /** The exponential-Golomb order that codes the gaps of increasing ids in the fewest bits (the smallest such). */
    static int golombOrder(int[] sortedIds, int k) {
        return fewestBits(MAX_GOLOMB, g -> golombBits(sortedIds, k, g));
    }

    /** The smallest parameter in {@code 0..max} whose code takes the fewest bits. */
    private static int fewestBits(int max, java.util.function.IntToLongFunction bits) {
        int best = 0;
        long bestBits = Long.MAX_VALUE;
        for (int p = 0; p <= max; p++) {
            long total = bits.applyAsLong(p);
            if (total < bestBits) {
                bestBits = total;
                best = p;
            }
        }
        return best;
    }

    /** Bits of the gaps of increasing ids as exponential-Golomb codes of order {@code g}. */
    static long golombBits(int[] sortedIds, int k, int g) {
        long total = 0;
        int previous = -1;
        for (int j = 0; j < k; j++) {
            int gap = sortedIds[j] - previous - 1;
            previous = sortedIds[j];
            int e = 63 - Long.numberOfLeadingZeros(((long) gap >>> g) + 1);
            total += 2L * e + 1 + g;
        }
        return total;
    }

    /** The k largest of {@code v[base .. base+n)}, largest first, ties by lower index (insertion into a sorted array). */
    static void topK(float[] v, int base, int n, int k, int[] out) {
        int size = 0;
        for (int i = 0; i < n; i++) {
            float x = v[base + i];
            if (size == k && !(x > v[base + out[k - 1]])) {
                continue;
            }
            int p = size < k ? size++ : k - 1;
            while (p > 0 && x > v[base + out[p - 1]]) {
                out[p] = out[p - 1];
                p--;
            }
            out[p] = i;
        }
    }

    /**
     * Decodes the first {@code n} positions of a version 2 record at {@code base} of {@code b}, whose
     * stored bytes end at {@code end}: ids and log-probabilities largest first (ties by lower id),
     * values below {@code -floor} (and log 0) raised to it.
     *
     * @throws IOException naming {@code where} when the bytes are not a valid record
     */
    static void decodeV2(ByteBuffer b, int base, int end, int n, int k, int vocab, ValueType vt, long[] ids,
                         float[] logProbs, int idsAt, float[] rest, int restAt, float floor, String where)
            throws IOException {
        int p = base;
        int[] sortedIds = new int[k];
        float[] values = new float[k];
        boolean q4 = vt == ValueType.Q4;
        float[] gaps = q4 ? Q4_LEVELS : Q8_GAPS;
        int codeBytes = codeBytes(k, vt);
        BitReader bits = new BitReader(b, end, where);
        for (int t = 0; t < n; t++) {
            if (p + V2_FIXED + codeBytes > end) {
                throw new IOException(where + " ends inside position " + t);
            }
            float best = CacheFormat.fromHalf(b.getShort(p));
            float restLog = CacheFormat.fromHalf(b.getShort(p + 2));
            if (Float.isNaN(best) || Float.isNaN(restLog)) {
                throw new IOException(where + " holds NaN at position " + t);
            }
            int codes = p + V2_FIXED;
            bits.start(codes + codeBytes);
            boolean golomb = vt == ValueType.Q4 && bits.read(1) == 1;
            int r = (int) bits.read(RICE_BITS);
            checkParameter(r, golomb, t, where);
            long previous = -1;
            for (int j = 0; j < k; j++) {
                long id = previous + 1 + gap(bits, golomb, r, t);
                if (id >= vocab) {
                    throw new IOException(where + " holds token id " + id + ", outside the vocabulary of " + vocab);
                }
                sortedIds[j] = (int) id;
                previous = id;
                int code = q4 ? (b.get(codes + (j >> 1)) >> ((j & 1) << 2)) & 0xF : b.get(codes + j) & 0xFF;
                values[j] = Math.max(best - gaps[code], -floor);
            }
            p = bits.endByte();
            int o = idsAt + t * k;
            // largest first, ties by lower id: an insertion sort of the k entries, stable over increasing ids
            for (int j = 0; j < k; j++) {
                float x = values[j];
                int q = j;
                while (q > 0 && x > logProbs[o + q - 1]) {
                    logProbs[o + q] = logProbs[o + q - 1];
                    ids[o + q] = ids[o + q - 1];
                    q--;
                }
                logProbs[o + q] = x;
                ids[o + q] = sortedIds[j];
            }
            rest[restAt + t] = Math.max(restLog, -floor);
        }
    }

    /** The byte length of a version 2 record of {@code n} positions at {@code base}, found by walking it. */
    static int v2Length(ByteBuffer b, int base, int end, int n, int k, ValueType vt, String where) throws IOException {
        int p = base;
        int codeBytes = codeBytes(k, vt);
        BitReader bits = new BitReader(b, end, where);
        for (int t = 0; t < n; t++) {
            if (p + V2_FIXED + codeBytes > end) {
                throw new IOException(where + " ends inside position " + t);
            }
            bits.start(p + V2_FIXED + codeBytes);
            boolean golomb = vt == ValueType.Q4 && bits.read(1) == 1;
            int r = (int) bits.read(RICE_BITS);
            checkParameter(r, golomb, t, where);
            for (int j = 0; j < k; j++) {
                gap(bits, golomb, r, t);
            }
            p = bits.endByte();
        }
        return p - base;
    }

    private static void checkParameter(int r, boolean golomb, int t, String where) throws IOException {
        int max = golomb ? MAX_GOLOMB : MAX_RICE;
        if (r > max) {
            throw new IOException(where + " has " + (golomb ? "exponential-Golomb order " : "Rice parameter ") + r
                    + " at position " + t + " (at most " + max + ")");
        }
    }

    /** One id gap of a stream. */
    private static long gap(BitReader bits, boolean golomb, int r, int t) throws IOException {
        if (!golomb) {
            return (bits.unary(t) << r) | bits.read(r);
        }
        long e = bits.unary(t);
        if (e > 31) {
            throw bits.bad("has an impossible id gap at position " + t);
        }
        long q = (1L << e) | bits.read((int) e);
        return ((q - 1) << r) | bits.read(r);
    }

    /** A growing little-endian byte array. */
    private static final class ByteArray {
        private byte[] a;
        private int size;

        ByteArray(int capacity) {
            a = new byte[Math.max(16, capacity)];
        }

        void put(byte v) {
            if (size == a.length) {
                a = Arrays.copyOf(a, a.length * 2);
            }
            a[size++] = v;
        }

        void putShort(short v) {
            put((byte) v);
            put((byte) (v >> 8));
        }

        void putInt(int v) {
            putShort((short) v);
            putShort((short) (v >> 16));
        }

        void putId(int id, int idBytes) {
            switch (idBytes) {
                case 1 -> put((byte) id);
                case 2 -> putShort((short) id);
                default -> putInt(id);
            }
        }

        void putValue(float v, ValueType vt) {
            if (vt == ValueType.FP16) {
                putShort(CacheFormat.toHalf(v));
            } else {
                putInt(Float.floatToRawIntBits(v));
            }
        }

        ByteBuffer toBuffer() {
            return ByteBuffer.wrap(a, 0, size).slice().order(ByteOrder.LITTLE_ENDIAN);
        }
    }

    /** Bits, least significant first within each byte, collected for one position's id stream. */
    private static final class BitWriter {
        private long buffer;
        private int count;
        private final ByteArray bytes = new ByteArray(64);

        void reset() {
            buffer = 0;
            count = 0;
            bytes.size = 0;
        }

        void write(long value, int n) {
            if (n == 0) {
                return;
            }
            buffer |= (value & ((1L << n) - 1)) << count;
            count += n;
            while (count >= 8) {
                bytes.put((byte) buffer);
                buffer >>>= 8;
                count -= 8;
            }
        }

        void unary(int q) {
            int left = q;
            while (left >= 32) {
                write(0xFFFF_FFFFL, 32);
                left -= 32;
            }
            write((1L << left) - 1, left + 1);
        }

        /** Appends the stream to {@code out}, padded with zero bits to a whole byte. */
        void flushTo(ByteArray out) {
            for (int i = 0; i < bytes.size; i++) {
                out.put(bytes.a[i]);
            }
            if (count > 0) {
                out.put((byte) buffer);
            }
            reset();
        }
    }

    /**
     * Reads bits least significant first from a byte buffer, never past {@code end}, through a 64-bit
     * window refilled a byte at a time.
     */
    private static final class BitReader {
        private final ByteBuffer b;
        private final int end;
        private final String where;
        /** The next byte to load into the window. */
        private int next;
        private long window;
        private int bits;
        /** Bits consumed since {@link #start}. */
        private long consumed;
        private int startByte;

        BitReader(ByteBuffer b, int end, String where) {
            this.b = b;
            this.end = end;
            this.where = where;
        }

        void start(int at) {
            next = at;
            startByte = at;
            window = 0;
            bits = 0;
            consumed = 0;
        }

        private void refill() {
            while (bits <= 56 && next < end) {
                window |= (long) (b.get(next++) & 0xFF) << bits;
                bits += 8;
            }
        }

        long read(int n) throws IOException {
            if (n == 0) {
                return 0;
            }
            if (bits < n) {
                refill();
                if (bits < n) {
                    throw new IOException(where + " ends inside an id stream");
                }
            }
            long v = window & ((1L << n) - 1);
            window >>>= n;
            bits -= n;
            consumed += n;
            return v;
        }

        /** A run of one bits ended by a zero: its length. */
        long unary(int position) throws IOException {
            long q = 0;
            while (true) {
                if (bits == 0) {
                    refill();
                    if (bits == 0) {
                        throw new IOException(where + " ends inside the ids of position " + position);
                    }
                }
                int ones = Long.numberOfTrailingZeros(~window);
                if (ones < bits) {
                    q += ones;
                    window >>>= ones + 1;
                    bits -= ones + 1;
                    consumed += ones + 1;
                    return q;
                }
                q += bits;
                consumed += bits;
                window = 0;
                bits = 0;
                if (q > Integer.MAX_VALUE) {
                    throw new IOException(where + " has an impossible id gap at position " + position);
                }
            }
        }

        IOException bad(String what) {
            return new IOException(where + " " + what);
        }

        /** The first byte after the bits read (the stream is padded to a whole byte). */
        int endByte() {
            return startByte + (int) ((consumed + 7) >>> 3);
        }
    }
}
