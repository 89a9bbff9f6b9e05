package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.WeightReader;
import org.distillery.api.model.WeightWriter;
import org.distillery.models.io.SafeTensors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Weights written and read one tensor at a time: types, exact bytes, order, atomicity, shards. */
class WeightStreamingTest {

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

    @Test
    void tensorsOfEveryTypeRoundTrip(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.safetensors");
        float[] values = {1.5f, -2.25f, 3.0e-3f, 1f / 3, 65504f, -0f};
        ByteBuffer mask = ByteBuffer.wrap(new byte[] {1, 0, 0, 1}).order(ByteOrder.LITTLE_ENDIAN);
        try (NDManager m = base.newSubManager();
             WeightWriter w = SVC.writeWeights(file, List.of(
                     new TensorInfo("a.f32", DataType.FLOAT32, new Shape(2, 3)),
                     new TensorInfo("b.bf16", DataType.BFLOAT16, new Shape(6)),
                     new TensorInfo("c.f16", DataType.FLOAT16, new Shape(3, 2)),
                     new TensorInfo("d.mask", DataType.UINT8, new Shape(1, 4)),
                     new TensorInfo("e.ids", DataType.INT64, new Shape(2))))) {
            NDArray a = m.create(values, new Shape(2, 3));
            w.write("a.f32", a);
            w.write("b.bf16", a.reshape(6));
            w.write("c.f16", a.reshape(3, 2));
            w.writeBytes("d.mask", mask);
            w.write("e.ids", m.create(new long[] {7, -9}));
            w.finish();
        }
        try (NDManager m = base.newSubManager(); WeightReader r = SVC.openWeights(dir)) {
            assertEquals(List.of("a.f32", "b.bf16", "c.f16", "d.mask", "e.ids"), List.copyOf(r.tensors().keySet()));
            assertEquals(DataType.BFLOAT16, r.tensors().get("b.bf16").dataType());
            assertEquals(new Shape(3, 2), r.tensors().get("c.f16").shape());
            assertArrayEquals(values, r.read("a.f32", m, null).toFloatArray());
            float[] bf16 = r.read("b.bf16", m, null).toFloatArray();
            for (int i = 0; i < values.length; i++) {
                float rounded = Float.intBitsToFloat((SafeTensors.bf16Bits(values[i]) & 0xFFFF) << 16);
                assertEquals(rounded, bf16[i], 0f, "bfloat16 rounds to nearest even, widened exactly");
            }
            NDArray f16 = r.read("c.f16", m, null);
            assertEquals(DataType.FLOAT16, f16.getDataType());
            assertArrayEquals(new long[] {7, -9}, r.read("e.ids", m, null).toLongArray());
            ByteBuffer back = r.bytes("d.mask");
            assertEquals(4, back.remaining());
            assertEquals(mask.rewind(), back);
            assertEquals(ByteBuffer.wrap(m.create(values, new Shape(2, 3)).toByteBuffer().array().clone())
                    .order(ByteOrder.LITTLE_ENDIAN), r.bytes("a.f32"), "stored bytes are the little-endian floats");
        }
        try (var files = Files.list(dir)) {
            assertEquals(List.of(file), files.toList(), "no temporary file left");
        }
    }

    @Test
    void largeTensorsAreReadAndWrittenInSlicesOfRows(@TempDir Path dir) throws IOException {
        // 5000 x 600 float32 = 12 MB, above the 8 MB slice: written and read back in slices of rows
        Path file = dir.resolve("model.safetensors");
        try (NDManager m = base.newSubManager()) {
            NDArray big = m.randomNormal(new Shape(5000, 600));
            try (WeightWriter w = SVC.writeWeights(file, List.of(new TensorInfo("big", DataType.FLOAT32, big.getShape()),
                    new TensorInfo("half", DataType.FLOAT16, big.getShape()),
                    new TensorInfo("brain", DataType.BFLOAT16, big.getShape())))) {
                w.write("big", big);
                w.write("half", big);
                w.write("brain", big);
                w.finish();
            }
            try (WeightReader r = SVC.openWeights(dir)) {
                assertArrayEquals(big.toFloatArray(), r.read("big", m, null).toFloatArray());
                assertArrayEquals(big.toType(DataType.FLOAT16, false).toType(DataType.FLOAT32, false).toFloatArray(),
                        r.read("half", m, DataType.FLOAT32).toFloatArray());
                assertArrayEquals(big.toFloatArray(), r.read("big", m, DataType.FLOAT16).toType(DataType.FLOAT32, false)
                        .toFloatArray(), 1e-2f);
                float[] values = big.toFloatArray();
                float[] brain = r.read("brain", m, null).toFloatArray();
                for (int i = 0; i < values.length; i += 997) {
                    assertEquals(Float.intBitsToFloat((SafeTensors.bf16Bits(values[i]) & 0xFFFF) << 16), brain[i], 0f);
                }
                assertEquals(5000 * 600 * 4, r.bytes("big").remaining());
                assertArrayEquals(big.toFloatArray(), r.read("big", m, null).toFloatArray(), "read again, same shape");
            }
        }
    }

    @Test
    void anUnfinishedWriterLeavesNothingAndOrderIsEnforced(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("model.safetensors");
        List<TensorInfo> declared = List.of(new TensorInfo("x", DataType.FLOAT32, new Shape(2)),
                new TensorInfo("y", DataType.FLOAT32, new Shape(2)));
        try (NDManager m = base.newSubManager(); WeightWriter w = SVC.writeWeights(file, declared)) {
            IllegalStateException order = assertThrows(IllegalStateException.class, () -> w.write("y", m.zeros(new Shape(2))));
            assertTrue(order.getMessage().contains("'x' is next"), order.getMessage());
            IllegalArgumentException shape = assertThrows(IllegalArgumentException.class,
                    () -> w.write("x", m.zeros(new Shape(3))));
            assertTrue(shape.getMessage().contains("[2]"), shape.getMessage());
            w.write("x", m.zeros(new Shape(2)));
            IllegalStateException early = assertThrows(IllegalStateException.class, w::finish);
            assertTrue(early.getMessage().contains("'y'"), early.getMessage());
        }
        try (var files = Files.list(dir)) {
            assertFalse(files.findAny().isPresent(), "the failed write left no file, temporary or final");
        }
    }

    @Test
    void shardedFoldersAreReadTensorByTensor(@TempDir Path dir) throws IOException {
        try (NDManager m = base.newSubManager();
             LanguageModel lm = SVC.create(TinyModels.config("llama"), 5, m)) {
            SVC.saveSharded(lm, dir, DataType.FLOAT32, 8_000);
            try (var files = Files.list(dir)) {
                assertTrue(files.filter(p -> p.getFileName().toString().matches("model-\\d+-of-\\d+\\.safetensors"))
                        .count() > 1, "several shards");
            }
            try (WeightReader r = SVC.openWeights(dir)) {
                assertEquals(lm.parameters().keySet(), r.tensors().keySet());
                for (Map.Entry<String, NDArray> e : lm.parameters().entrySet()) {
                    assertArrayEquals(e.getValue().toFloatArray(), r.read(e.getKey(), m, DataType.FLOAT32).toFloatArray(),
                            e.getKey());
                }
            }
        }
    }
}
