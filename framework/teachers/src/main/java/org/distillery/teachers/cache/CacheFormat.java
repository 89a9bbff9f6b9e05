package org.distillery.teachers.cache;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/** Constants and codecs of the cache file format described in {@code package-info.java}. */
final class CacheFormat {

    static final byte[] MAGIC = "DSTLKDTC".getBytes(StandardCharsets.US_ASCII);
    /** The fixed-stride format (fp16 or fp32 values, 1-, 2- or 4-byte ids). */
    static final int VERSION = 1;
    /** The compact format ({@link ValueType#Q8}, {@link ValueType#Q4}: 8- or 4-bit gaps to the top-1, coded ids). */
    static final int VERSION_2 = 2;
    /** Bytes of the fixed part of the header, before the strings. */
    static final int FIXED_HEADER = 72;
    /** Bytes of a version 1 index entry. */
    static final int INDEX_ENTRY = 24;
    /** Bytes of a version 2 index entry (it adds the record's byte length). */
    static final int INDEX_ENTRY_V2 = 32;
    static final int MAX_STRING = 0xFFFF;

    private CacheFormat() {
    }

    /** The 64-bit key of a token sequence: the first 8 bytes of SHA-256 over its ids as u32 LE. */
    static long hash(int[] ids, int length) {
        MessageDigest md = sha256();
        ByteBuffer b = ByteBuffer.allocate(4 * Math.max(length, 1)).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < length; i++) {
            b.putInt(ids[i]);
        }
        md.update(b.array(), 0, 4 * length);
        return ByteBuffer.wrap(md.digest()).getLong();
    }

    static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Hex SHA-256 of a file's bytes. */
    static String sha256(Path file) throws IOException {
        MessageDigest md = sha256();
        try (InputStream in = Files.newInputStream(file)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Bytes per token id for a vocabulary. */
    static int idBytes(int vocabSize) {
        return vocabSize <= 256 ? 1 : vocabSize <= 65536 ? 2 : 4;
    }

    /** The format version a value type is written in. */
    static int version(ValueType vt) {
        return vt.compact() ? VERSION_2 : VERSION;
    }

    /** Bytes per stored id for a value type and vocabulary: 0 where ids are Rice-coded (version 2). */
    static int idBytes(ValueType vt, int vocabSize) {
        return vt.compact() ? 0 : idBytes(vocabSize);
    }

    /** Bytes of an index entry of a format version. */
    static int indexEntry(int version) {
        return version == VERSION_2 ? INDEX_ENTRY_V2 : INDEX_ENTRY;
    }

    /** Bytes of one position. */
    static long stride(int k, int idBytes, int valueBytes) {
        return (long) k * (idBytes + valueBytes) + valueBytes;
    }

    /**
     * Float to IEEE 754 binary16, round to nearest even (as Java 20's {@code Float.floatToFloat16}).
     */
    static short toHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        short sign = (short) ((bits & 0x8000_0000) >> 16);
        if (Float.isNaN(f)) {
            return (short) (sign | 0x7c00 | (bits & 0x007f_e000) >> 13 | (bits & 0x0000_1ff0) >> 4 | (bits & 0x0000_000f));
        }
        float abs = Math.abs(f);
        if (abs >= 0x1.ffcp15f + 0x0.002p15f) {
            return (short) (sign | 0x7c00);
        }
        if (abs <= 0x1.0p-24f * 0.5f) {
            return sign;
        }
        int exp = Math.getExponent(f);
        int expDelta = 0;
        int msb = 0;
        if (exp < -14) {
            expDelta = -14 - exp;
            exp = -15;
            msb = 0x0080_0000;
        }
        int signif = bits & 0x007f_ffff | msb;
        short half = (short) (signif >> (13 + expDelta));
        int lsb = signif & (1 << 13 + expDelta);
        int round = signif & (1 << 12 + expDelta);
        int sticky = signif & ((1 << 12 + expDelta) - 1);
        if (round != 0 && (lsb | sticky) != 0) {
            half++;
        }
        return (short) (sign | (((exp + 15) << 10) + half));
    }

    /** IEEE 754 binary16 to float, exact. */
    static float fromHalf(short h) {
        int signBit = 0x8000 & h;
        int expBits = 0x7c00 & h;
        int signif = 0x03ff & h;
        float sign = signBit != 0 ? -1f : 1f;
        int exp = (expBits >> 10) - 15;
        if (exp == -15) {
            return sign * (0x1p-24f * signif);
        }
        if (exp == 16) {
            return signif == 0 ? sign * Float.POSITIVE_INFINITY
                    : Float.intBitsToFloat((signBit << 16) | 0x7f80_0000 | (signif << 13));
        }
        return Float.intBitsToFloat((signBit << 16) | ((exp + 127) << 23) | (signif << 13));
    }
}
