package org.distillery.dashboard.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TfEventsWriterTest {

    /**
     * An event file reader written from the format's description, sharing no code with the writer:
     * a table-driven CRC-32C, TFRecord framing checks and a generic protocol buffer decoder.
     */
    static final class Reader {

        /** One event: wall time, step, and either the file version or a scalar. */
        record Event(double wallTime, long step, String fileVersion, String tag, float value) {
        }

        private static final int[] TABLE = new int[256];

        static {
            for (int n = 0; n < 256; n++) {
                int c = n;
                for (int k = 0; k < 8; k++) {
                    c = (c & 1) != 0 ? 0x82F63B78 ^ (c >>> 1) : c >>> 1;
                }
                TABLE[n] = c;
            }
        }

        static int crc32c(byte[] b, int off, int len) {
            int c = 0xFFFFFFFF;
            for (int i = off; i < off + len; i++) {
                c = TABLE[(c ^ b[i]) & 0xFF] ^ (c >>> 8);
            }
            return ~c;
        }

        static int unmask(int masked) {
            int rot = masked - 0xa282ead8;
            return (rot >>> 17) | (rot << 15);
        }

        static List<Event> read(byte[] file) throws IOException {
            ByteBuffer in = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
            List<Event> out = new ArrayList<>();
            while (in.hasRemaining()) {
                if (in.remaining() < 12) {
                    throw new IOException("truncated record header at " + in.position());
                }
                int at = in.position();
                long length = in.getLong();
                int lengthCrc = in.getInt();
                if (unmask(lengthCrc) != crc32c(file, at, 8)) {
                    throw new IOException("length CRC mismatch at " + at);
                }
                byte[] data = new byte[(int) length];
                in.get(data);
                int dataCrc = in.getInt();
                if (unmask(dataCrc) != crc32c(data, 0, data.length)) {
                    throw new IOException("data CRC mismatch at " + at);
                }
                out.add(event(data));
            }
            return out;
        }

        private static Event event(byte[] data) throws IOException {
            Map<Integer, Object> f = fields(data);
            double wall = f.containsKey(1) ? Double.longBitsToDouble((Long) f.get(1)) : 0;
            long step = f.containsKey(2) ? (Long) f.get(2) : 0;
            if (f.containsKey(3)) {
                return new Event(wall, step, new String((byte[]) f.get(3), StandardCharsets.UTF_8), null, 0);
            }
            Map<Integer, Object> summary = fields((byte[]) f.get(5));
            Map<Integer, Object> value = fields((byte[]) summary.get(1));
            return new Event(wall, step, null, new String((byte[]) value.get(1), StandardCharsets.UTF_8),
                    Float.intBitsToFloat((Integer) value.get(2)));
        }

        /** Field number to value: Long for varint and fixed64, Integer for fixed32, byte[] for length-delimited. */
        private static Map<Integer, Object> fields(byte[] b) throws IOException {
            Map<Integer, Object> out = new LinkedHashMap<>();
            int[] pos = {0};
            while (pos[0] < b.length) {
                long key = varint(b, pos);
                int field = (int) (key >>> 3);
                switch ((int) (key & 7)) {
                    case 0 -> out.put(field, varint(b, pos));
                    case 1 -> {
                        out.put(field, ByteBuffer.wrap(b, pos[0], 8).order(ByteOrder.LITTLE_ENDIAN).getLong());
                        pos[0] += 8;
                    }
                    case 2 -> {
                        int len = (int) varint(b, pos);
                        out.put(field, Arrays.copyOfRange(b, pos[0], pos[0] + len));
                        pos[0] += len;
                    }
                    case 5 -> {
                        out.put(field, ByteBuffer.wrap(b, pos[0], 4).order(ByteOrder.LITTLE_ENDIAN).getInt());
                        pos[0] += 4;
                    }
                    default -> throw new IOException("unexpected wire type " + (key & 7));
                }
            }
            return out;
        }

        private static long varint(byte[] b, int[] pos) {
            long v = 0;
            for (int shift = 0; ; shift += 7) {
                byte x = b[pos[0]++];
                v |= (long) (x & 0x7F) << shift;
                if ((x & 0x80) == 0) {
                    return v;
                }
            }
        }
    }

    private static byte[] golden() throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (TfEventsWriter w = new TfEventsWriter(out, 1767225600.0)) {
            w.scalar("loss", 1, 2.5f, 1767225601.0);
            w.scalar("loss", 2, 2.25f, 1767225602.5);
            w.scalar("val/loss", 10, 1.125f, 1767225610.0);
            w.scalar("terms/0:kd.forward-kl", 300, 0.001f, 1767225900.25);
        }
        return out.toByteArray();
    }

    @Test
    void crc32cAndItsMaskAreTheStandardOnes() {
        byte[] check = "123456789".getBytes(StandardCharsets.US_ASCII);
        assertEquals(0xE3069283, Reader.crc32c(check, 0, check.length), "CRC-32C check value");
        int masked = TfEventsWriter.maskedCrc32c(check, 0, check.length);
        assertEquals(0xE3069283, Reader.unmask(masked));
    }

    @Test
    void theFirstRecordIsTensorFlowsFileVersionEvent() throws IOException {
        byte[] b = golden();
        // every TensorFlow event file starts with these 12 bytes: length 24, then its masked CRC
        assertArrayEquals(new byte[] {0x18, 0, 0, 0, 0, 0, 0, 0, (byte) 0xa3, 0x7f, 0x4b, 0x22}, Arrays.copyOf(b, 12));
    }

    @Test
    void anIndependentReaderReadsBackEveryScalar() throws IOException {
        List<Reader.Event> events = Reader.read(golden());
        assertEquals(5, events.size());
        assertEquals("brain.Event:2", events.get(0).fileVersion());
        assertEquals(1767225600.0, events.get(0).wallTime());
        assertEquals(new Reader.Event(1767225601.0, 1, null, "loss", 2.5f), events.get(1));
        assertEquals(new Reader.Event(1767225602.5, 2, null, "loss", 2.25f), events.get(2));
        assertEquals(new Reader.Event(1767225610.0, 10, null, "val/loss", 1.125f), events.get(3));
        assertEquals(new Reader.Event(1767225900.25, 300, null, "terms/0:kd.forward-kl", 0.001f), events.get(4));
    }

    @Test
    void matchesTheGoldenFileByteForByte() throws IOException {
        try (InputStream in = TfEventsWriterTest.class.getResourceAsStream("golden.tfevents")) {
            assertArrayEquals(in.readAllBytes(), golden());
        }
    }

    @Test
    void aDamagedFileIsCaughtByTheCrcs() throws IOException {
        byte[] b = golden();
        b[40] ^= 1;
        assertThrows(IOException.class, () -> Reader.read(b));
    }

    @Test
    void exportsEveryStageAndMetricOfARun(@TempDir Path dir) throws IOException {
        Path run = Files.createDirectories(dir.resolve("run"));
        Files.writeString(run.resolve("config.conf"), "experiment { name = t, seed = 1 }\n");
        Files.writeString(run.resolve("events.jsonl"), String.join("\n",
                "{\"time\":\"2026-01-01T00:00:00Z\",\"type\":\"run-started\",\"stages\":[\"a\",\"b\"]}",
                "{\"time\":\"2026-01-01T00:00:01Z\",\"type\":\"step\",\"stage\":\"a\",\"step\":1,\"loss\":2.0,\"ms\":{\"data\":3}}",
                "{\"time\":\"2026-01-01T00:00:02Z\",\"type\":\"step\",\"stage\":\"a\",\"step\":2,\"loss\":1.5,\"ms\":{\"data\":3}}",
                "{\"time\":\"2026-01-01T00:00:02Z\",\"type\":\"eval\",\"stage\":\"a\",\"step\":2,\"val.loss\":1.75}",
                "{\"time\":\"2026-01-01T00:00:03Z\",\"type\":\"step\",\"stage\":\"b\",\"step\":1,\"loss\":9.0}") + "\n");
        TensorBoardExport.Result r = TensorBoardExport.export(run, dir.resolve("tb"));
        assertEquals(2, r.files().size());
        assertEquals(List.of("loss", "ms/data", "val/loss"), r.tags().get("a"));
        assertEquals(6, r.scalars());
        List<Reader.Event> a = Reader.read(Files.readAllBytes(r.files().get(0)));
        assertTrue(r.files().get(0).startsWith(dir.resolve("tb/a")));
        assertTrue(r.files().get(0).getFileName().toString().startsWith("events.out.tfevents.1767225600."));
        assertEquals(new Reader.Event(1767225602.0, 2, null, "loss", 1.5f), a.get(2));
        assertEquals(new Reader.Event(1767225602.0, 2, null, "val/loss", 1.75f), a.get(5));
        List<Reader.Event> b = Reader.read(Files.readAllBytes(r.files().get(1)));
        assertEquals(new Reader.Event(1767225603.0, 1, null, "loss", 9.0f), b.get(1));
    }
}
