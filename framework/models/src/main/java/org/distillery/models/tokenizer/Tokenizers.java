package org.distillery.models.tokenizer;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Map;

import org.distillery.api.model.Tokenizer;
import org.distillery.models.io.Json;

/** Picks the tokenizer of a model folder: the byte tokenizer marker, else {@code tokenizer.json}. */
public final class Tokenizers {

    private Tokenizers() {
    }

    /** Loads the tokenizer of {@code dir}. */
    public static Tokenizer load(Path dir) throws IOException {
        Path config = dir.resolve("tokenizer_config.json");
        if (Files.exists(config)) {
            Map<String, Object> m = Json.readMap(config);
            if (ByteTokenizer.CLASS_NAME.equals(m.get("tokenizer_class"))) {
                return ByteTokenizer.load(dir);
            }
        }
        if (Files.exists(dir.resolve("tokenizer.json"))) {
            return HfTokenizer.load(dir);
        }
        throw new NoSuchFileException(dir.toString(), null,
                "no tokenizer.json and no byte tokenizer marker (tokenizer_config.json with tokenizer_class "
                        + ByteTokenizer.CLASS_NAME + ")");
    }
}
