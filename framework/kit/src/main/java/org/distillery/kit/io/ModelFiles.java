package org.distillery.kit.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;

/**
 * The files of a Hugging Face model folder besides its weights and {@code config.json}: what a tool
 * that writes a new folder from an old one (a merged, pruned or gathered model) carries over so that
 * the new folder loads with the same tokenizer and generation defaults.
 */
public final class ModelFiles {

    /** Tokenizer files, in the forms Hugging Face and Distillery's byte tokenizer write them. */
    public static final List<String> TOKENIZER = List.of("tokenizer.json", "tokenizer_config.json",
            "special_tokens_map.json", "added_tokens.json", "vocab.json", "merges.txt", "tokenizer.model",
            "chat_template.json", "chat_template.jinja");

    /** Generation defaults (eos ids, sampling settings). */
    public static final String GENERATION_CONFIG = "generation_config.json";

    private ModelFiles() {
    }

    /**
     * Copies the tokenizer files of {@code from} that exist into {@code to}, replacing older copies;
     * {@code from == null} copies nothing. Returns the names copied.
     */
    public static List<String> copyTokenizer(Path from, Path to) throws IOException {
        return copy(from, to, TOKENIZER);
    }

    /** Copies the tokenizer files and {@code generation_config.json} of {@code from} that exist into {@code to}. */
    public static List<String> copyTokenizerAndGeneration(Path from, Path to) throws IOException {
        List<String> names = new ArrayList<>(TOKENIZER);
        names.add(GENERATION_CONFIG);
        return copy(from, to, names);
    }

    private static List<String> copy(Path from, Path to, List<String> names) throws IOException {
        List<String> copied = new ArrayList<>();
        if (from == null) {
            return copied;
        }
        Files.createDirectories(to);
        for (String name : names) {
            Path source = from.resolve(name);
            if (Files.isRegularFile(source)) {
                Files.copy(source, to.resolve(name), StandardCopyOption.REPLACE_EXISTING);
                copied.add(name);
            }
        }
        return copied;
    }
}
