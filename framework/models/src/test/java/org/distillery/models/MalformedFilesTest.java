package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.LanguageModel;
import org.distillery.models.io.Json;
import org.distillery.models.io.SafeTensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Broken safetensors, index and config files: each a clear error naming the file and the tensor or field. */
class MalformedFilesTest {

    static final HfModelService SVC = new HfModelService();
    static NDManager base;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    @TempDir
    Path dir;

    private static void writeRaw(Path file, String header, int dataBytes) throws IOException {
        byte[] h = header.getBytes(StandardCharsets.UTF_8);
        ByteBuffer b = ByteBuffer.allocate(8 + h.length + dataBytes).order(ByteOrder.LITTLE_ENDIAN);
        b.putLong(h.length).put(h);
        Files.write(file, b.array());
    }

    private static String read(Path file) throws IOException {
        try (SafeTensors.Reader r = SafeTensors.Reader.open(file)) {
            return "opened " + r.entries().keySet();
        }
    }

    private IOException expectBad(Path file) {
        IOException e = assertThrows(IOException.class, () -> read(file));
        assertTrue(e.getMessage().contains(file.toString()), "message names the file: " + e.getMessage());
        return e;
    }

    private static void assertMessage(Throwable e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), "expected '" + p + "' in: " + e.getMessage());
        }
    }

    @Test
    void tooShort() throws IOException {
        Path f = dir.resolve("a.safetensors");
        Files.write(f, new byte[] {1, 2, 3});
        assertMessage(expectBad(f), "too short");
    }

    @Test
    void headerLengthBeyondFile() throws IOException {
        Path f = dir.resolve("a.safetensors");
        ByteBuffer b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(1L << 40);
        Files.write(f, b.array());
        assertMessage(expectBad(f), "header length", "exceeds the file size");
        // a negative (huge unsigned) length, too
        b = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-5L);
        Files.write(f, b.array());
        assertMessage(expectBad(f), "exceeds the file size");
    }

    @Test
    void headerNotJson() throws IOException {
        Path f = dir.resolve("a.safetensors");
        writeRaw(f, "{\"w\": {\"dtype\": \"F32\", ", 0);
        assertMessage(expectBad(f), "not valid JSON");
        writeRaw(f, "[1, 2, 3]", 0);
        assertMessage(expectBad(f), "not a JSON object");
    }

    @Test
    void unknownDtype() throws IOException {
        Path f = dir.resolve("a.safetensors");
        writeRaw(f, "{\"layer.w\": {\"dtype\": \"F7\", \"shape\": [2], \"data_offsets\": [0, 8]}}", 8);
        assertMessage(expectBad(f), "'layer.w'", "unknown dtype 'F7'");
        writeRaw(f, "{\"layer.w\": {\"dtype\": \"F8_E4M3\", \"shape\": [2], \"data_offsets\": [0, 2]}}", 2);
        assertMessage(expectBad(f), "'layer.w'", "not supported");
    }

    @Test
    void shapeDoesNotMatchByteRange() throws IOException {
        Path f = dir.resolve("a.safetensors");
        writeRaw(f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3, 2], \"data_offsets\": [0, 16]}}", 16);
        assertMessage(expectBad(f), "'w'", "needs 24 bytes", "cover 16");
        writeRaw(f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3, 2.5], \"data_offsets\": [0, 16]}}", 16);
        assertMessage(expectBad(f), "'w'", "not an integer");
        writeRaw(f, "{\"w\": {\"dtype\": \"F32\", \"shape\": [4611686018427387904, 4], \"data_offsets\": [0, 16]}}", 16);
        assertMessage(expectBad(f), "'w'", "too large");
        writeRaw(f, "{\"w\": {\"dtype\": \"F32\", \"data_offsets\": [0, 16]}}", 16);
        assertMessage(expectBad(f), "'w'", "shape");
    }

    @Test
    void offsetsOutsideDataSectionTruncatedFile() throws IOException {
        Path f = dir.resolve("model.safetensors");
        try (NDManager m = base.newSubManager()) {
            NDArray a = m.arange(0f, 64f).reshape(8, 8);
            SafeTensors.write(f, Map.of("big", a, "small", m.ones(new Shape(2))), DataType.FLOAT32, Map.of());
        }
        try (FileChannel ch = FileChannel.open(f, StandardOpenOption.WRITE)) {
            ch.truncate(ch.size() - 10);
        }
        assertMessage(expectBad(f), "outside the data section", "truncated");
    }

    @Test
    void overlappingTensors() throws IOException {
        Path f = dir.resolve("a.safetensors");
        writeRaw(f, "{\"a\": {\"dtype\": \"F32\", \"shape\": [4], \"data_offsets\": [0, 16]},"
                + " \"b\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 16]}}", 16);
        assertMessage(expectBad(f), "'a'", "'b'", "overlap");
        writeRaw(f, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], \"data_offsets\": [8, 0]}}", 16);
        assertMessage(expectBad(f), "'a'", "end before they begin");
    }

    private Path savedModel(String arch) throws IOException {
        Path d = dir.resolve(arch);
        try (NDManager m = base.newSubManager(); LanguageModel lm = SVC.create(TinyModels.config(arch), 1, m)) {
            SVC.save(lm, d, DataType.FLOAT32);
        }
        return d;
    }

    private void rewriteWeights(Path d, java.util.function.Consumer<Map<String, NDArray>> edit) throws IOException {
        try (NDManager m = base.newSubManager(); LanguageModel lm = SVC.load(d, DataType.FLOAT32, m)) {
            Map<String, NDArray> t = new java.util.TreeMap<>(lm.parameters());
            edit.accept(t);
            SafeTensors.write(d.resolve("model.safetensors"), t, DataType.FLOAT32, Map.of());
        }
    }

    @Test
    void missingUnexpectedAndMisshapenParameters() throws IOException {
        Path d = savedModel("llama");
        rewriteWeights(d, t -> t.remove("model.layers.1.self_attn.k_proj.weight"));
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d, DataType.FLOAT32, m));
            assertMessage(e, "missing", "model.layers.1.self_attn.k_proj.weight");
        }
        Path d2 = savedModel("qwen2");
        rewriteWeights(d2, t -> t.put("model.layers.0.extra.weight", t.get("model.norm.weight")));
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d2, DataType.FLOAT32, m));
            assertMessage(e, "unexpected tensor", "model.layers.0.extra.weight", "model.safetensors");
        }
        Path d3 = savedModel("gpt2");
        rewriteWeights(d3, t -> t.put("transformer.ln_f.bias", t.get("transformer.h.0.attn.c_attn.bias")));
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d3, DataType.FLOAT32, m));
            assertMessage(e, "'transformer.ln_f.bias'", "shape [96]", "(32)");
        }
    }

    @Test
    void brokenShardIndex() throws IOException {
        Path d = dir.resolve("sharded");
        try (NDManager m = base.newSubManager(); LanguageModel lm = SVC.create(TinyModels.config("mistral"), 1, m)) {
            SVC.saveSharded(lm, d, DataType.FLOAT32, 16 * 1024);
        }
        Path index = d.resolve(HfModelService.INDEX);
        Map<String, Object> idx = Json.readMap(index);
        @SuppressWarnings("unchecked")
        Map<String, Object> wm = (Map<String, Object>) idx.get("weight_map");
        wm.put("model.norm.weight", "model-00009-of-00009.safetensors");
        Json.writeAtomic(index, idx);
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d, DataType.FLOAT32, m));
            assertMessage(e, "model-00009-of-00009.safetensors", "does not exist", "model.norm.weight");
        }
        wm.put("model.norm.weight", "../outside.safetensors");
        Json.writeAtomic(index, idx);
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d, DataType.FLOAT32, m));
            assertMessage(e, "not a plain file name");
        }
        Files.writeString(index, "{\"metadata\": {}}");
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d, DataType.FLOAT32, m));
            assertMessage(e, "weight_map", index.toString());
        }
    }

    @Test
    void noWeightsAtAll() throws IOException {
        Path d = savedModel("llama");
        Files.delete(d.resolve("model.safetensors"));
        try (NDManager m = base.newSubManager()) {
            IOException e = assertThrows(IOException.class, () -> SVC.load(d, DataType.FLOAT32, m));
            assertMessage(e, "model.safetensors", "model.safetensors.index.json");
        }
    }

    @Test
    void brokenConfigs() throws IOException {
        Path d = dir.resolve("cfg");
        Files.createDirectories(d);
        Path cfg = d.resolve("config.json");
        Files.writeString(cfg, "{\"model_type\": \"llama\", ");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), cfg.toString(), "not valid JSON");
        Files.writeString(cfg, "{\"hidden_size\": 32}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "missing model_type");
        Files.writeString(cfg, "{\"model_type\": \"bert\"}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "unsupported model_type 'bert'",
                "llama");
        Files.writeString(cfg, "{\"model_type\": \"llama\", \"hidden_size\": 30, \"num_attention_heads\": 4}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "30", "not divisible", "4");
        Files.writeString(cfg, "{\"model_type\": \"llama\", \"hidden_size\": 32, \"num_attention_heads\": 4,"
                + " \"num_key_value_heads\": 3}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "num_key_value_heads 3");
        Files.writeString(cfg, "{\"model_type\": \"llama\", \"num_hidden_layers\": -2}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "num_hidden_layers must be positive");
        Files.writeString(cfg, "{\"model_type\": \"llama\", \"hidden_size\": \"big\"}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "hidden_size must be an integer");
        Files.writeString(cfg, "{\"model_type\": \"llama\", \"rope_scaling\": {\"type\": \"yarn2\", \"factor\": 2}}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "unsupported rope_scaling type 'yarn2'");
        Files.writeString(cfg, "{\"model_type\": \"mixtral\", \"num_local_experts\": 2, \"num_experts_per_tok\": 3}");
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "num_experts_per_tok 3");
        Files.delete(cfg);
        assertMessage(assertThrows(IOException.class, () -> SVC.readConfig(d)), "config.json");
    }

    @Test
    void validFileStillOpens() throws IOException {
        Path f = dir.resolve("ok.safetensors");
        writeRaw(f, "{\"__metadata__\": {\"format\": \"pt\"}, \"w\": {\"dtype\": \"BF16\", \"shape\": [2, 2],"
                + " \"data_offsets\": [0, 8]}, \"e\": {\"dtype\": \"F32\", \"shape\": [0], \"data_offsets\": [8, 8]}}", 8);
        assertTrue(read(f).contains("w"));
    }
}
