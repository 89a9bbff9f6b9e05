package org.distillery.dashboard.export;

import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.zip.CRC32C;

/**
 * Writes a TensorBoard event file ({@code events.out.tfevents.*}): a sequence of TFRecords, each
 *
 * <pre>
 *   uint64 length            little-endian
 *   uint32 masked_crc32c(length bytes)
 *   byte   data[length]      a serialized tensorflow.Event protocol buffer
 *   uint32 masked_crc32c(data)
 * </pre>
 *
 * where {@code masked_crc32c(x) = ((c >>> 15) | (c << 17)) + 0xa282ead8} of the CRC-32C
 * (Castagnoli) {@code c} of x, as TensorFlow's record writer masks it and TensorBoard checks it.
 * The first event carries {@code file_version = "brain.Event:2"}; each scalar is an event with
 * {@code wall_time}, {@code step} and a {@code Summary} of one {@code Value{tag, simple_value}},
 * which TensorBoard shows in its scalars dashboard.
 *
 * <p>Protocol buffer fields written (numbers from tensorflow/core/util/event.proto and
 * summary.proto): Event 1 wall_time (double), 2 step (int64), 3 file_version (string),
 * 5 summary; Summary 1 value (repeated); Value 1 tag (string), 2 simple_value (float).
 */
public final class TfEventsWriter implements Closeable {

    private static final int MASK_DELTA = 0xa282ead8;

    private final OutputStream out;

    /** Starts an event file on {@code out} with the file-version event at {@code wallTime} (seconds). */
    public TfEventsWriter(OutputStream out, double wallTime) throws IOException {
        this.out = new BufferedOutputStream(out, 1 << 16);
        ProtoWriter event = new ProtoWriter();
        event.fixed64(1, Double.doubleToLongBits(wallTime));
        event.bytes(3, "brain.Event:2".getBytes(StandardCharsets.UTF_8));
        record(event.toByteArray());
    }

    /** Writes one scalar. */
    public void scalar(String tag, long step, float value, double wallTime) throws IOException {
        ProtoWriter v = new ProtoWriter();
        v.bytes(1, tag.getBytes(StandardCharsets.UTF_8));
        v.fixed32(2, Float.floatToIntBits(value));
        ProtoWriter summary = new ProtoWriter();
        summary.bytes(1, v.toByteArray());
        ProtoWriter event = new ProtoWriter();
        event.fixed64(1, Double.doubleToLongBits(wallTime));
        event.varint(2, step);
        event.bytes(5, summary.toByteArray());
        record(event.toByteArray());
    }

    private void record(byte[] data) throws IOException {
        ByteBuffer header = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN);
        header.putLong(data.length);
        header.putInt(maskedCrc32c(header.array(), 0, 8));
        out.write(header.array());
        out.write(data);
        ByteBuffer footer = ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN);
        footer.putInt(maskedCrc32c(data, 0, data.length));
        out.write(footer.array());
    }

    /** The masked CRC-32C TFRecords carry. */
    public static int maskedCrc32c(byte[] data, int offset, int length) {
        CRC32C crc = new CRC32C();
        crc.update(data, offset, length);
        int c = (int) crc.getValue();
        return ((c >>> 15) | (c << 17)) + MASK_DELTA;
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /** Just enough of the protocol buffer wire format for events. */
    static final class ProtoWriter {
        private final java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();

        void varint(int field, long value) {
            rawVarint((long) field << 3);
            rawVarint(value);
        }

        void fixed64(int field, long bits) {
            rawVarint(((long) field << 3) | 1);
            for (int i = 0; i < 8; i++) {
                buf.write((int) (bits >>> (8 * i)));
            }
        }

        void fixed32(int field, int bits) {
            rawVarint(((long) field << 3) | 5);
            for (int i = 0; i < 4; i++) {
                buf.write(bits >>> (8 * i));
            }
        }

        void bytes(int field, byte[] value) {
            rawVarint(((long) field << 3) | 2);
            rawVarint(value.length);
            buf.writeBytes(value);
        }

        private void rawVarint(long v) {
            while ((v & ~0x7FL) != 0) {
                buf.write((int) ((v & 0x7F) | 0x80));
                v >>>= 7;
            }
            buf.write((int) v);
        }

        byte[] toByteArray() {
            return buf.toByteArray();
        }
    }
}
