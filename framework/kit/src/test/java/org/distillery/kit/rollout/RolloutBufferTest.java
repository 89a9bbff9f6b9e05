package org.distillery.kit.rollout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Rollouts, their buffer's bit-exact checkpoint form, and their batches' layout. */
class RolloutBufferTest {

    private static Rollout rollout() {
        return Rollout.of(new int[] {7, 8, 9, 10, 11}, 2)
                .with("old", new float[] {-1.5f, Float.NaN, -0.0f})
                .withConstant("adv", 0.25f);
    }

    @Test
    void aBufferReadsBackBitForBit(@TempDir Path dir) throws IOException {
        RolloutBuffer buffer = new RolloutBuffer(3, List.of(rollout(), Rollout.of(new int[] {1, 2}, 1)
                .with("old", new float[] {Float.MIN_VALUE}).with("adv", new float[] {-7f})));
        Path file = dir.resolve("sampler").resolve(RolloutBuffer.FILE);
        buffer.save(file);
        RolloutBuffer back = RolloutBuffer.load(file);
        assertEquals(3, back.round());
        assertEquals(2, back.rollouts().size());
        for (int i = 0; i < 2; i++) {
            Rollout a = buffer.rollouts().get(i);
            Rollout b = back.rollouts().get(i);
            assertArrayEquals(a.ids(), b.ids());
            assertEquals(a.promptLength(), b.promptLength());
            assertEquals(List.copyOf(a.values().keySet()), List.copyOf(b.values().keySet()), "names in order");
            for (String name : a.values().keySet()) {
                float[] x = a.value(name);
                float[] y = b.value(name);
                for (int k = 0; k < x.length; k++) {
                    assertEquals(Float.floatToRawIntBits(x[k]), Float.floatToRawIntBits(y[k]), name + "[" + k + "]");
                }
            }
        }
    }

    @Test
    void anotherFileOrATruncatedOneFailsNamingTheFile(@TempDir Path dir) throws IOException {
        Path file = dir.resolve("x.bin");
        Files.write(file, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        IOException e = assertThrows(IOException.class, () -> RolloutBuffer.load(file));
        assertTrue(e.getMessage().contains(file.toString()), e.getMessage());
        new RolloutBuffer(0, List.of(rollout())).save(file);
        byte[] all = Files.readAllBytes(file);
        Files.write(file, java.util.Arrays.copyOf(all, all.length - 3));
        e = assertThrows(IOException.class, () -> RolloutBuffer.load(file));
        assertTrue(e.getMessage().contains("truncated"), e.getMessage());
    }

    @Test
    void valuesMustCoverTheResponse() {
        assertThrows(IllegalArgumentException.class, () -> Rollout.of(new int[] {1, 2, 3}, 1).with("v", new float[3]));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> rollout().value("nope"));
        assertTrue(e.getMessage().contains("[old, adv]"), e.getMessage());
    }

    @Test
    void batchesAlignEachValueWithTheTargetItBelongsTo() {
        try (NDManager m = NDManager.newBaseManager()) {
            Rollout a = rollout();
            Rollout b = Rollout.of(new int[] {3, 4}, 1).with("old", new float[] {5f}).with("adv", new float[] {6f});
            TokenBatch batch = RolloutBatches.assemble(List.of(a, b), List.of("old", "adv"),
                    Map.of("row", new float[] {1f, 2f}), 0, m);
            assertEquals(List.of(2L, 4L), List.of(batch.inputIds().getShape().get(0), batch.inputIds().getShape().get(1)));
            assertArrayEquals(new long[] {7, 8, 9, 10, 3, 0, 0, 0}, batch.inputIds().toLongArray());
            assertArrayEquals(new long[] {8, 9, 10, 11, 4, 0, 0, 0}, batch.targets().toLongArray());
            // position t predicts token t + 1; the response starts at token 2, so positions 1..3 count
            assertArrayEquals(new float[] {0, 1, 1, 1, 1, 0, 0, 0}, batch.lossMask().toFloatArray());
            float[] old = batch.extra("old").toFloatArray();
            assertEquals(-1.5f, old[1]);
            assertTrue(Float.isNaN(old[2]));
            assertEquals(5f, old[4]);
            assertArrayEquals(new float[] {0, 0.25f, 0.25f, 0.25f, 6f, 0, 0, 0}, batch.extra("adv").toFloatArray());
            assertArrayEquals(new float[] {1f, 2f}, batch.extra("row").toFloatArray());
            assertArrayEquals(new float[] {1, 1, 1, 1, 1, 0, 0, 0}, batch.attentionMask().toFloatArray());
        }
    }
}
