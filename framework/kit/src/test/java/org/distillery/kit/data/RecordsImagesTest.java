package org.distillery.kit.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.VisionInput;
import org.junit.jupiter.api.Test;

/** Records with images: the placeholder expands into the model's image tokens; batches carry pixels and spans. */
class RecordsImagesTest {

    /** Bytes 0..255, bos 257, eos 258, pad 256. */
    static final Tokenizer TOK = new Tokenizer() {
        @Override
        public int[] encode(String text) {
            byte[] b = text.getBytes(StandardCharsets.UTF_8);
            int[] ids = new int[b.length];
            for (int i = 0; i < b.length; i++) {
                ids[i] = b[i] & 0xFF;
            }
            return ids;
        }

        @Override
        public String decode(int[] ids) {
            return "";
        }

        @Override
        public int vocabSize() {
            return 260;
        }

        @Override
        public int eosId() {
            return 258;
        }

        @Override
        public int padId() {
            return 256;
        }

        @Override
        public OptionalInt bosId() {
            return OptionalInt.of(257);
        }

        @Override
        public String fingerprint() {
            return "test";
        }

        @Override
        public String applyChatTemplate(List<ChatTurn> turns, boolean addGenerationPrompt) {
            StringBuilder sb = new StringBuilder();
            turns.forEach(t -> sb.append(t.role()).append(": ").append(t.content()).append('\n'));
            return sb.append(addGenerationPrompt ? "assistant: " : "").toString();
        }
    };

    /** Image token 259, three per image; pixel values record which files were asked for. */
    static final class FakeVision implements VisionInput {
        final List<Path> asked = new ArrayList<>();

        @Override
        public int imageTokenId() {
            return 259;
        }

        @Override
        public int tokensPerImage() {
            return 3;
        }

        @Override
        public NDArray pixelValues(List<Path> images, NDManager manager) {
            asked.addAll(images);
            return manager.zeros(new Shape(images.size(), 3, 2, 2));
        }

        @Override
        public String describe() {
            return "fake";
        }
    }

    @Test
    void thePlaceholderBecomesTheImageTokens() {
        FakeVision v = new FakeVision();
        Example front = Example.imagePair("a", "/x/a.png", "Hi?", "ok", Map.of());
        assertArrayEquals(new int[] {257, 259, 259, 259, '\n', 'H', 'i', '?', '\n'}, Records.promptIds(front, TOK, v));
        Example marked = Example.imagePair("b", "/x/b.png", "A<image>B", "ok", Map.of());
        assertArrayEquals(new int[] {257, 'A', 259, 259, 259, 'B', '\n'}, Records.promptIds(marked, TOK, v));
        Example chat = new Example("c", null, null, List.of(new Example.Message("user", "<image>\nQ"),
                new Example.Message("assistant", "A")), null, Map.of(), "/x/c.png");
        int[] ids = Records.promptIds(chat, TOK, v);
        assertEquals(3, java.util.Arrays.stream(ids).filter(i -> i == 259).count());
        Records.Encoded enc = Records.encode(front, TOK, 64, v);
        assertEquals("/x/a.png", enc.image());
        assertEquals(9, enc.promptLength());
    }

    @Test
    void aModelWithoutVisionAndACutThroughTheImageFailNamingTheRecord() {
        Example front = Example.imagePair("rec-7", "/x/a.png", "Hi?", "ok", Map.of());
        var e = assertThrows(IllegalArgumentException.class, () -> Records.encode(front, TOK, 64, (VisionInput) null));
        assertTrue(e.getMessage().contains("rec-7") && e.getMessage().contains("no vision tower"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Records.encode(front, TOK, 3, new FakeVision()));
        assertTrue(e.getMessage().contains("rec-7") && e.getMessage().contains("cuts into its image"), e.getMessage());
    }

    @Test
    void batchesCarryPixelsAndSpansOfTheImageRowsOnly() {
        FakeVision v = new FakeVision();
        List<Records.Encoded> seqs = List.of(
                Records.encode(Example.imagePair("a", "/x/a.png", "Q", "yes", Map.of()), TOK, 64, v),
                Records.encode(Example.pair("t", "text", "only", Map.of()), TOK, 64, v),
                Records.encode(Example.imagePair("b", "/x/b.png", "x<image>", "no", Map.of()), TOK, 64, v));
        try (NDManager m = NDManager.newBaseManager()) {
            TokenBatch b = Records.batch(seqs, TOK.padId(), m, v);
            assertTrue(b.hasImages());
            assertEquals(new Shape(2, 3, 2, 2), b.pixelValues().getShape());
            assertEquals(List.of(Path.of("/x/a.png"), Path.of("/x/b.png")), v.asked);
            assertArrayEquals(new int[] {1, 3, 0, 0, 2, 3}, b.imageSpans().toIntArray());
            TokenBatch masked = b.withLossMask(b.lossMask());
            assertTrue(masked.hasImages(), "a copy with another mask keeps the images");
            var e = assertThrows(IllegalArgumentException.class, () -> Records.batch(seqs, TOK.padId(), m));
            assertTrue(e.getMessage().contains("VisionInput"), e.getMessage());
            TokenBatch text = Records.batch(List.of(seqs.get(1)), TOK.padId(), m, null);
            assertNull(text.pixelValues());
        }
    }
}
