package org.distillery.teachers.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;

/**
 * Encodes and decodes the records of both format versions (layouts in {@code package-info.java}):
 * version 1 stores each position's top k ids and log-probabilities at a fixed stride; version 2
 * ({@link ValueType#Q8}) stores the top-1 log-probability and the rest log-mass in fp16, each other
 * entry as an 8-bit gap below the top-1 on a square-root scale, and the ids in increasing order as
 * Rice-coded gaps, so a position costs about {@code k * (1 + (2 + log2(vocab / k)) / 8) + 5} bytes.
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
    /** Fixed bytes of a version 2 position besides its id stream: top-1 and rest (fp16), then k codes. */
    static final int V2_FIXED = 4;

    private RecordCodec() {
    }

    /** The code of a gap of {@code gap} nats (non-negative; infinity saturates). */
    static int gapCode(double gap) {
        if (!(gap > 0)) {
            return 0;
        }
        long c = Math.round(Math.sqrt(gap * GAP_SCALE));
        return (int) Math.min(255, c);
    }

    /** The gap, in nats, a code stands for. */
    static float gapOf(int code) {
        return (float) code * code / GAP_SCALE;
    }

    /** Bytes of a version 2 position at least: its fixed part and a stream of k one-bit gaps with r = 0. */
    static int minV2PositionBytes(int k) {
        return V2_FIXED + k + (RICE_BITS + k + 7) / 8;
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
     * @param vt how values are stored; {@link ValueType#Q8} writes version 2
     */
    static ByteBuffer encode(float[] lp, int n, int vocab, int k, int idBytes, ValueType vt) {
        ByteArray out = new ByteArray(vt == ValueType.Q8 ? n * (V2_FIXED + k + k) : (int) (n
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
            if (vt != ValueType.Q8) {
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
                codes[j] = gapCode((double) best - lp[base + byId[j]]);
            }
            out.putShort(CacheFormat.toHalf(best));
            out.putShort(CacheFormat.toHalf(restLog));
            for (int j = 0; j < k; j++) {
                out.put((byte) codes[j]);
            }
            int r = riceParameter(byId, k);
            bits.reset();
            bits.write(r, RICE_BITS);
            int previous = -1;
            for (int j = 0; j < k; j++) {
                int gap = byId[j] - previous - 1;
                previous = byId[j];
                bits.unary(gap >>> r);
                bits.write(gap & ((1 << r) - 1), r);
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
        int bestR = 0;
        long bestBits = Long.MAX_VALUE;
        for (int r = 0; r <= MAX_RICE; r++) {
            long total = 0;
            int previous = -1;
            for (int j = 0; j < k; j++) {
                int gap = sortedIds[j] - previous - 1;
                previous = sortedIds[j];
                total += (gap >>> r) + 1 + r;
            }
            if (total < bestBits) {
                bestBits = total;
                bestR = r;
            }
        }
        return bestR;
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
    static void decodeV2(ByteBuffer b, int base, int end, int n, int k, int vocab, long[] ids, float[] logProbs,
                         int idsAt, float[] rest, int restAt, float floor, String where) throws IOException {
        int p = base;
        int[] sortedIds = new int[k];
        float[] values = new float[k];
        BitReader bits = new BitReader(b, end, where);
        for (int t = 0; t < n; t++) {
            if (p + V2_FIXED + k > end) {
                throw new IOException(where + " ends inside position " + t);
            }
            float best = CacheFormat.fromHalf(b.getShort(p));
            float restLog = CacheFormat.fromHalf(b.getShort(p + 2));
            if (Float.isNaN(best) || Float.isNaN(restLog)) {
                throw new IOException(where + " holds NaN at position " + t);
            }
            int codes = p + V2_FIXED;
            bits.start(codes + k);
            int r = (int) bits.read(RICE_BITS);
            if (r > MAX_RICE) {
                throw new IOException(where + " has Rice parameter " + r + " at position " + t + " (at most " + MAX_RICE
                        + ")");
            }
            long previous = -1;
            for (int j = 0; j < k; j++) {
                long gap = (bits.unary(t) << r) | bits.read(r);
                long id = previous + 1 + gap;
                if (id >= vocab) {
                    throw new IOException(where + " holds token id " + id + ", outside the vocabulary of " + vocab);
                }
                sortedIds[j] = (int) id;
                previous = id;
                values[j] = Math.max(best - gapOf(b.get(codes + j) & 0xFF), -floor);
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
    static int v2Length(ByteBuffer b, int base, int end, int n, int k, String where) throws IOException {
        int p = base;
        BitReader bits = new BitReader(b, end, where);
        for (int t = 0; t < n; t++) {
            if (p + V2_FIXED + k > end) {
                throw new IOException(where + " ends inside position " + t);
            }
            bits.start(p + V2_FIXED + k);
            int r = (int) bits.read(RICE_BITS);
            for (int j = 0; j < k; j++) {
                bits.unary(t);
                bits.read(r);
            }
            p = bits.endByte();
        }
        return p - base;
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

        /** The first byte after the bits read (the stream is padded to a whole byte). */
        int endByte() {
            return startByte + (int) ((consumed + 7) >>> 3);
        }
    }
}
