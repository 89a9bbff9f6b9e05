package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.Tokenizer.ChatTurn;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.models.tokenizer.HfTokenizer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The byte tokenizer and the tokenizer.json wrapper, on files written here (no downloads). */
class TokenizerTest {

    static final HfModelService SVC = new HfModelService();

    @Test
    void byteTokenizerRoundTrip(@TempDir Path dir) throws IOException {
        ByteTokenizer t = new ByteTokenizer();
        String text = "héllo ✓ world";
        int[] ids = t.encode(text);
        assertEquals(text.getBytes(java.nio.charset.StandardCharsets.UTF_8).length, ids.length);
        int[] withSpecials = new int[ids.length + 2];
        withSpecials[0] = t.bosId().getAsInt();
        System.arraycopy(ids, 0, withSpecials, 1, ids.length);
        withSpecials[ids.length + 1] = t.eosId();
        assertEquals(text, t.decode(withSpecials));
        assertEquals(259, t.vocabSize());
        assertEquals(256, t.padId());
        assertEquals(257, t.bosId().getAsInt());
        assertEquals(258, t.eosId());
        t.save(dir);
        Tokenizer back = SVC.tokenizer(dir);
        assertInstanceOf(ByteTokenizer.class, back);
        assertEquals(t.fingerprint(), back.fingerprint());
        assertTrue(t.fingerprint().startsWith("byte:"));
        assertEquals("<|user|>\nhi\n<|assistant|>\n",
                back.applyChatTemplate(List.of(new ChatTurn("user", "hi")), true));
        ByteTokenizer other = new ByteTokenizer(List.of("<pad>", "<eos>"), "<pad>", null, "<eos>", null);
        assertNotEquals(t.fingerprint(), other.fingerprint());
        assertTrue(other.bosId().isEmpty());
    }

    static final String WORD_LEVEL = """
            {"version": "1.0", "truncation": null, "padding": null,
             "added_tokens": [
               {"id": 0, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
               {"id": 1, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}],
             "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null, "decoder": null,
             "model": {"type": "WordLevel", "vocab": {"<pad>": 0, "</s>": 1, "[UNK]": 2, "hello": 3, "world": 4, "!": 5},
                       "unk_token": "[UNK]"}}
            """;

    @Test
    void wordLevelTokenizerJson(@TempDir Path dir) throws IOException {
        Files.writeString(dir.resolve("tokenizer.json"), WORD_LEVEL);
        Tokenizer t = SVC.tokenizer(dir);
        try {
            assertInstanceOf(HfTokenizer.class, t);
            assertArrayEquals(new int[] {3, 4, 5}, t.encode("hello world!"));
            assertArrayEquals(new int[] {3, 2}, t.encode("hello there"));
            assertEquals("hello world !", t.decode(new int[] {3, 4, 5, 1, 0}));
            assertEquals(6, t.vocabSize());
            assertEquals(1, t.eosId());
            assertEquals(0, t.padId());
            assertTrue(t.bosId().isEmpty());
            assertTrue(t.fingerprint().startsWith("hf-wordlevel:"));
            assertEquals("<|system|>\nbe nice\n<|user|>\nhello\n",
                    t.applyChatTemplate(List.of(new ChatTurn("system", "be nice"), new ChatTurn("user", "hello")), false));
        } finally {
            ((HfTokenizer) t).close();
        }
        // the same vocabulary elsewhere has the same fingerprint; a changed one does not
        Path other = dir.resolve("other");
        Files.createDirectories(other);
        Files.writeString(other.resolve("tokenizer.json"), WORD_LEVEL);
        Files.writeString(other.resolve("tokenizer_config.json"), "{\"eos_token\": {\"content\": \"!\"}}");
        try (HfTokenizer a = HfTokenizer.load(dir); HfTokenizer b = HfTokenizer.load(other)) {
            assertEquals(a.fingerprint(), b.fingerprint());
            assertEquals(5, b.eosId());
        }
        Files.delete(other.resolve("tokenizer_config.json"));
        Files.writeString(other.resolve("tokenizer.json"), WORD_LEVEL.replace("\"!\": 5", "\"?\": 5"));
        try (HfTokenizer a = HfTokenizer.load(dir); HfTokenizer b = HfTokenizer.load(other)) {
            assertNotEquals(a.fingerprint(), b.fingerprint());
        }
    }

    @Test
    void bpeTokenizerJson(@TempDir Path dir) throws IOException {
        String bpe = """
                {"version": "1.0", "truncation": null, "padding": null,
                 "added_tokens": [{"id": 5, "content": "<|endoftext|>", "single_word": false, "lstrip": false,
                                   "rstrip": false, "normalized": false, "special": true}],
                 "normalizer": null, "pre_tokenizer": null, "post_processor": null, "decoder": null,
                 "model": {"type": "BPE", "dropout": null, "unk_token": null, "continuing_subword_prefix": null,
                           "end_of_word_suffix": null, "fuse_unk": false, "byte_fallback": false,
                           "vocab": {"a": 0, "b": 1, "c": 2, "ab": 3, "abc": 4},
                           "merges": ["a b", "ab c"]}}
                """;
        Files.writeString(dir.resolve("tokenizer.json"), bpe);
        try (HfTokenizer t = HfTokenizer.load(dir)) {
            assertArrayEquals(new int[] {4, 3}, t.encode("abcab"));
            assertArrayEquals(new int[] {4, 2, 0}, t.encode("abcca"));
            assertEquals(5, t.eosId());
            assertEquals(6, t.vocabSize());
            assertTrue(t.fingerprint().startsWith("hf-bpe:"));
        }
    }

    @Test
    void missingTokenizer(@TempDir Path dir) {
        IOException e = assertThrows(IOException.class, () -> SVC.tokenizer(dir));
        assertTrue(e.getMessage().contains("tokenizer.json"), e.getMessage());
    }
}
