package org.distillery.kit.io;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Tokenizer and generation files carried from one model folder to another; weights and notes stay behind. */
class ModelFilesTest {

    @Test
    void copiesTheTokenizerFilesThatExist(@TempDir Path from, @TempDir Path to) throws Exception {
        Files.writeString(from.resolve("tokenizer_config.json"), "{\"tokenizer_class\": \"X\"}");
        Files.writeString(from.resolve("merges.txt"), "a b\n");
        Files.writeString(from.resolve("generation_config.json"), "{}");
        Files.writeString(from.resolve("model.safetensors"), "weights");
        Files.writeString(from.resolve("RECIPE.md"), "how it was made");
        Files.writeString(to.resolve("merges.txt"), "old");
        assertEquals(List.of("tokenizer_config.json", "merges.txt"), ModelFiles.copyTokenizer(from, to));
        assertEquals("a b\n", Files.readString(to.resolve("merges.txt")), "replaces an older copy");
        assertFalse(Files.exists(to.resolve("generation_config.json")));
        assertEquals(List.of("tokenizer_config.json", "merges.txt", "generation_config.json"),
                ModelFiles.copyTokenizerAndGeneration(from, to));
        assertFalse(Files.exists(to.resolve("model.safetensors")));
        assertFalse(Files.exists(to.resolve("RECIPE.md")));
        assertTrue(ModelFiles.copyTokenizer(null, to).isEmpty(), "no source, nothing copied");
    }
}
