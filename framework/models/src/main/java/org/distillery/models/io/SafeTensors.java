package org.distillery.models.io;

import java.io.EOFException;
import java.io.IOException;
import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.JsonPrimitive;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidFileException;
import org.distillery.kit.io.AtomicFiles;

/**
 * Reads and writes the safetensors format: an 8-byte little-endian header length, a JSON
 * header, then raw little-endian tensor data. The reader memory-maps and validates everything
 * before touching tensor bytes.
 */
public final class SafeTensors {

    /** Largest header accepted (the format's own limit is 100 MB). */
    public static final long MAX_HEADER_BYTES = 100L * 1024 * 1024;

    private static final Map<String, DataType> DTYPES = Map.of(
            "F64", DataType.FLOAT64, "F32", DataType.FLOAT32, "F16", DataType.FLOAT16,
            "BF16", DataType.BFLOAT16, "I64", DataType.INT64, "I32", DataType.INT32,
            "I8", DataType.INT8, "U8", DataType.UINT8, "BOOL", DataType.BOOLEAN);
    private static final List<String> KNOWN_UNSUPPORTED = List.of(
            "I16", "U16", "U32", "U64", "F8_E4M3", "F8_E5M2", "F8_E8M0", "F4", "F6_E2M3", "F6_E3M2", "C64");

    private SafeTensors() {
    }

    /**
     * One tensor of a header.
     *
     * @param name tensor name
     * @param dtype safetensors dtype, e.g. {@code BF16}
     * @param shape dimensions
     * @param begin first byte, relative to the data section
     * @param end byte after the last, relative to the data section
     */
    public record Entry(String name, String dtype, long[] shape, long begin, long end) {

        /** The DJL data type. */
        public DataType dataType() {
            return DTYPES.get(dtype);
        }

        /** The shape as a DJL shape. */
        public Shape djlShape() {
            return new Shape(shape);
        }
    }

    /** The DJL type of a safetensors dtype name, or {@code null}. */
    public static DataType dataType(String dtype) {
        return DTYPES.get(dtype);
    }

    /** The safetensors dtype name of a DJL type. */
    public static String dtypeName(DataType type) {
        for (Map.Entry<String, DataType> e : DTYPES.entrySet()) {
            if (e.getValue() == type) {
                return e.getKey();
            }
        }
        throw new IllegalArgumentException("no safetensors dtype for " + type);
    }

    /** A validated, memory-mappable safetensors file. */
    public static final class Reader implements AutoCloseable {
        private final Path file;
        private final FileChannel channel;
        private final long dataStart;
        private final Map<String, Entry> entries;
        private final Map<String, String> metadata;

        private Reader(Path file, FileChannel channel, long dataStart, Map<String, Entry> entries,
                       Map<String, String> metadata) {
            this.file = file;
            this.channel = channel;
            this.dataStart = dataStart;
            this.entries = entries;
            this.metadata = metadata;
        }

        /** Opens and validates {@code file}; every error names the file and, where relevant, the tensor. */
        public static Reader open(Path file) throws IOException {
            FileChannel ch;
            try {
                ch = FileChannel.open(file, StandardOpenOption.READ);
            } catch (NoSuchFileException e) {
                throw new NoSuchFileException(file.toString(), null, "safetensors file not found");
            }
            boolean ok = false;
            try {
                Reader r = parse(file, ch);
                ok = true;
                return r;
            } finally {
                if (!ok) {
                    ch.close();
                }
            }
        }

        private static Reader parse(Path file, FileChannel ch) throws IOException {
            long size = ch.size();
            if (size < 8) {
                throw bad(file, "file is " + size + " bytes, too short for the 8-byte header length (truncated?)");
            }
            ByteBuffer lenBuf = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            readFully(ch, lenBuf, 0);
            long n = lenBuf.getLong(0);
            if (n < 0 || n > size - 8) {
                throw bad(file, "header length " + Long.toUnsignedString(n) + " exceeds the file size of "
                        + size + " bytes (truncated or not a safetensors file)");
            }
            if (n > MAX_HEADER_BYTES) {
                throw bad(file, "header length " + n + " exceeds the cap of " + MAX_HEADER_BYTES + " bytes");
            }
            if (n < 2) {
                throw bad(file, "header length " + n + " is too small for a JSON object");
            }
            ByteBuffer hb = ByteBuffer.allocate((int) n);
            readFully(ch, hb, 8);
            hb.flip();
            String text;
            try {
                text = StandardCharsets.UTF_8.newDecoder().onMalformedInput(CodingErrorAction.REPORT)
                        .onUnmappableCharacter(CodingErrorAction.REPORT).decode(hb).toString();
            } catch (CharacterCodingException e) {
                throw bad(file, "header is not valid UTF-8");
            }
            JsonElement root;
            try {
                root = JsonParser.parseString(text);
            } catch (JsonParseException e) {
                throw bad(file, "header is not valid JSON: " + Json.rootMessage(e));
            }
            if (!root.isJsonObject()) {
                throw bad(file, "header is not a JSON object");
            }
            long dataStart = 8 + n;
            long dataLen = size - dataStart;
            Map<String, Entry> entries = new LinkedHashMap<>();
            Map<String, String> metadata = new LinkedHashMap<>();
            for (Map.Entry<String, JsonElement> e : root.getAsJsonObject().entrySet()) {
                String name = e.getKey();
                if ("__metadata__".equals(name)) {
                    if (!e.getValue().isJsonObject()) {
                        throw bad(file, "__metadata__ must be an object of strings");
                    }
                    for (Map.Entry<String, JsonElement> m : e.getValue().getAsJsonObject().entrySet()) {
                        JsonElement v = m.getValue();
                        if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                            throw bad(file, "__metadata__ value '" + m.getKey() + "' is not a string");
                        }
                        metadata.put(m.getKey(), v.getAsString());
                    }
                    continue;
                }
                entries.put(name, parseEntry(file, name, e.getValue(), dataLen));
            }
            List<Entry> sorted = new ArrayList<>(entries.values());
            sorted.sort(Comparator.comparingLong(Entry::begin).thenComparingLong(Entry::end));
            Entry prev = null;
            for (Entry en : sorted) {
                if (en.begin() == en.end()) {
                    continue;
                }
                if (prev != null && en.begin() < prev.end()) {
                    throw bad(file, "tensors '" + prev.name() + "' [" + prev.begin() + ", " + prev.end() + ") and '"
                            + en.name() + "' [" + en.begin() + ", " + en.end() + ") overlap");
                }
                prev = en;
            }
            return new Reader(file, ch, dataStart, Collections.unmodifiableMap(entries),
                    Collections.unmodifiableMap(metadata));
        }

        private static Entry parseEntry(Path file, String name, JsonElement el, long dataLen) throws IOException {
            if (name.isEmpty()) {
                throw bad(file, "empty tensor name in header");
            }
            if (!el.isJsonObject()) {
                throw bad(file, "tensor '" + name + "': header entry is not an object");
            }
            JsonObject o = el.getAsJsonObject();
            JsonElement dt = o.get("dtype");
            if (dt == null || !dt.isJsonPrimitive() || !dt.getAsJsonPrimitive().isString()) {
                throw bad(file, "tensor '" + name + "': missing or non-string dtype");
            }
            String dtype = dt.getAsString();
            if (!DTYPES.containsKey(dtype)) {
                if (KNOWN_UNSUPPORTED.contains(dtype)) {
                    throw bad(file, "tensor '" + name + "': dtype " + dtype + " is not supported (supported: "
                            + new TreeMap<>(DTYPES).keySet() + ")");
                }
                throw bad(file, "tensor '" + name + "': unknown dtype '" + dtype + "' (supported: "
                        + new TreeMap<>(DTYPES).keySet() + ")");
            }
            long[] shape = longArray(file, name, "shape", o.get("shape"), -1);
            long[] offsets = longArray(file, name, "data_offsets", o.get("data_offsets"), 2);
            long elements = 1;
            try {
                for (long d : shape) {
                    elements = Math.multiplyExact(elements, d);
                }
                long bytes = Math.multiplyExact(elements, (long) DTYPES.get(dtype).getNumOfBytes());
                if (offsets[0] > offsets[1]) {
                    throw bad(file, "tensor '" + name + "': data_offsets " + Arrays.toString(offsets)
                            + " end before they begin");
                }
                if (offsets[1] - offsets[0] != bytes) {
                    throw bad(file, "tensor '" + name + "': shape " + Arrays.toString(shape) + " of " + dtype
                            + " needs " + bytes + " bytes but data_offsets " + Arrays.toString(offsets) + " cover "
                            + (offsets[1] - offsets[0]));
                }
            } catch (ArithmeticException ex) {
                throw bad(file, "tensor '" + name + "': shape " + Arrays.toString(shape) + " is too large");
            }
            if (offsets[1] > dataLen) {
                throw bad(file, "tensor '" + name + "': data_offsets " + Arrays.toString(offsets)
                        + " lie outside the data section of " + dataLen + " bytes (truncated file?)");
            }
            return new Entry(name, dtype, shape, offsets[0], offsets[1]);
        }

        private static long[] longArray(Path file, String name, String field, JsonElement el, int len)
                throws IOException {
            if (el == null || !el.isJsonArray()) {
                throw bad(file, "tensor '" + name + "': missing or non-array " + field);
            }
            JsonArray arr = el.getAsJsonArray();
            if (len >= 0 && arr.size() != len) {
                throw bad(file, "tensor '" + name + "': " + field + " must have " + len + " entries, got " + arr.size());
            }
            long[] out = new long[arr.size()];
            for (int i = 0; i < out.length; i++) {
                JsonElement v = arr.get(i);
                if (!v.isJsonPrimitive() || !((JsonPrimitive) v).isNumber()) {
                    throw bad(file, "tensor '" + name + "': " + field + " has a non-numeric entry " + v);
                }
                BigDecimal d = v.getAsBigDecimal();
                long l;
                try {
                    l = d.longValueExact();
                } catch (ArithmeticException ex) {
                    throw bad(file, "tensor '" + name + "': " + field + " entry " + v + " is not an integer");
                }
                if (l < 0) {
                    throw bad(file, "tensor '" + name + "': " + field + " entry " + l + " is negative");
                }
                out[i] = l;
            }
            return out;
        }

        private static void readFully(FileChannel ch, ByteBuffer buf, long pos) throws IOException {
            long p = pos;
            while (buf.hasRemaining()) {
                int r = ch.read(buf, p);
                if (r < 0) {
                    throw new EOFException("unexpected end of file");
                }
                p += r;
            }
        }

        /** The file read. */
        public Path file() {
            return file;
        }

        /** Tensors by name, in header order. */
        public Map<String, Entry> entries() {
            return entries;
        }

        /** The {@code __metadata__} strings. */
        public Map<String, String> metadata() {
            return metadata;
        }

        /**
         * Reads one tensor into {@code manager}, converted to {@code target} (or kept if {@code null}).
         * The array owns its memory (the mapping is copied by the engine).
         */
        public NDArray read(String name, NDManager manager, DataType target) throws IOException {
            Entry e = entries.get(name);
            if (e == null) {
                throw new InvalidFileException(file, "no tensor '" + name + "'");
            }
            DataType src = e.dataType();
            long len = e.end() - e.begin();
            if (len > Integer.MAX_VALUE) {
                throw new InvalidFileException(file, "tensor '" + name + "' has " + len
                        + " bytes; tensors over 2 GiB are not supported");
            }
            DataType want = target == null ? src : target;
            if (len == 0) {
                return manager.zeros(e.djlShape(), want);
            }
            MappedByteBuffer map = channel.map(FileChannel.MapMode.READ_ONLY, dataStart + e.begin(), len);
            map.order(ByteOrder.LITTLE_ENDIAN);
            if (src == DataType.BFLOAT16) {
                // The DJL PyTorch engine has no bfloat16 type: widen to float32 in Java (exact).
                return fromBf16(map, e, manager, want);
            }
            // The engine wraps a direct buffer without copying; copy it into engine-owned memory at once so
            // the array never aliases the read-only mapping.
            try (NDArray view = manager.create(map, e.djlShape(), src)) {
                NDArray out = want == src ? view.duplicate() : view.toType(want, true);
                return out;
            }
        }

        private NDArray fromBf16(MappedByteBuffer map, Entry e, NDManager manager, DataType want) throws IOException {
            if (want == DataType.BFLOAT16) {
                throw new IllegalArgumentException("bfloat16 arrays are not supported by the DJL PyTorch engine; "
                        + "load as float32 or float16");
            }
            long n = e.djlShape().size();
            ByteBuffer f32 = manager.allocateDirect(Math.toIntExact(n * 4)).order(ByteOrder.nativeOrder());
            try {
                for (long i = 0; i < n; i++) {
                    int bits = (map.getShort() & 0xFFFF) << 16;
                    f32.putInt(bits);
                }
            } catch (InternalError err) {
                throw new InvalidFileException(file, "tensor '" + e.name() + "' could not be read (file changed?)", err);
            }
            f32.flip();
            NDArray a = manager.create(f32, e.djlShape(), DataType.FLOAT32);
            if (want == DataType.FLOAT32) {
                return a;
            }
            try (a) {
                return a.toType(want, false);
            }
        }

        @Override
        public void close() throws IOException {
            channel.close();
        }
    }

    /**
     * Writes {@code tensors} (converted to {@code dtype}) to {@code file} via a temp file in the
     * same folder and an atomic rename. Tensors are written in name order.
     */
    public static void write(Path file, Map<String, NDArray> tensors, DataType dtype, Map<String, String> metadata)
            throws IOException {
        try (AtomicFiles.Group group = AtomicFiles.group()) {
            write(group, file, tensors, dtype, metadata);
            group.commit();
        }
    }

    /**
     * Writes {@code tensors} as {@link #write(Path, Map, DataType, Map)} does, as one file of
     * {@code group}: it goes into place with the group's other files when the group commits.
     */
    public static void write(AtomicFiles.Group group, Path file, Map<String, NDArray> tensors, DataType dtype,
                             Map<String, String> metadata) throws IOException {
        String dtName = dtypeName(dtype);
        List<String> names = new ArrayList<>(tensors.keySet());
        Collections.sort(names);
        JsonObject header = new JsonObject();
        if (metadata != null && !metadata.isEmpty()) {
            JsonObject md = new JsonObject();
            metadata.forEach(md::addProperty);
            header.add("__metadata__", md);
        }
        long offset = 0;
        for (String name : names) {
            NDArray a = tensors.get(name);
            long bytes = a.getShape().size() * dtype.getNumOfBytes();
            JsonObject o = new JsonObject();
            o.addProperty("dtype", dtName);
            JsonArray shape = new JsonArray();
            for (long d : a.getShape().getShape()) {
                shape.add(d);
            }
            o.add("shape", shape);
            JsonArray off = new JsonArray();
            off.add(offset);
            off.add(offset + bytes);
            o.add("data_offsets", off);
            header.add(name, o);
            offset += bytes;
        }
        byte[] hjson = header.toString().getBytes(StandardCharsets.UTF_8);
        int padded = (hjson.length + 7) / 8 * 8;
        ByteBuffer head = ByteBuffer.allocate(8 + padded).order(ByteOrder.LITTLE_ENDIAN);
        head.putLong(padded);
        head.put(hjson);
        while (head.hasRemaining()) {
            head.put((byte) ' ');
        }
        head.flip();

        group.writeChannel(file, ch -> writeData(ch, head, names, tensors, dtype));
    }

    /** The header and then every tensor's bytes, in name order. */
    private static void writeData(WritableByteChannel ch, ByteBuffer head, List<String> names,
                                  Map<String, NDArray> tensors, DataType dtype) throws IOException {
        AtomicFiles.writeFully(ch, head);
        for (String name : names) {
            NDArray a = tensors.get(name);
            if (a.getShape().size() == 0) {
                continue;
            }
            if (dtype == DataType.BFLOAT16) {
                AtomicFiles.writeFully(ch, toBf16(a));
                continue;
            }
            NDArray conv = a.getDataType() == dtype ? a : a.toType(dtype, false);
            try {
                ByteBuffer bb = conv.toByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                AtomicFiles.writeFully(ch, bb);
            } finally {
                if (conv != a) {
                    conv.close();
                }
            }
        }
    }

    /** bfloat16 bytes of {@code a}, rounded to nearest even like PyTorch (NaN becomes 0x7FC0). */
    private static ByteBuffer toBf16(NDArray a) {
        float[] f;
        if (a.getDataType() == DataType.FLOAT32) {
            f = a.toFloatArray();
        } else {
            try (NDArray c = a.toType(DataType.FLOAT32, false)) {
                f = c.toFloatArray();
            }
        }
        ByteBuffer out = ByteBuffer.allocate(f.length * 2).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : f) {
            out.putShort(bf16Bits(v));
        }
        out.flip();
        return out;
    }

    /** The bfloat16 bits of {@code v}, round-to-nearest-even. */
    public static short bf16Bits(float v) {
        if (Float.isNaN(v)) {
            return (short) 0x7FC0;
        }
        int bits = Float.floatToRawIntBits(v);
        int lsb = (bits >>> 16) & 1;
        bits += 0x7FFF + lsb;
        return (short) (bits >>> 16);
    }

    private static IOException bad(Path file, String msg) {
        return new InvalidFileException(file, "invalid safetensors file: " + msg);
    }
}
