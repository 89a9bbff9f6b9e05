package org.distillery.models;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.ModelConfig;
import org.distillery.models.arch.ArchConfig;
import org.distillery.models.io.Json;
import org.distillery.models.llava.LlavaConfig;

/**
 * Builds {@link ModelConfig} records from {@code config.json} maps and back: the text
 * architectures of {@link ArchConfig} and LLaVA ({@link LlavaConfig}), whose record carries its
 * language model's sizes.
 */
public final class ModelConfigs {

    /** The {@code model_type} values this module implements. */
    public static final List<String> SUPPORTED = java.util.stream.Stream.concat(ArchConfig.SUPPORTED.stream(),
            java.util.stream.Stream.of(LlavaConfig.MODEL_TYPE)).toList();

    private ModelConfigs() {
    }

    /**
     * Builds a validated config from {@code config.json} fields; missing optional fields take the
     * Hugging Face defaults of the architecture.
     *
     * @throws IllegalArgumentException naming the field that is missing or invalid
     */
    public static ModelConfig fromMap(Map<String, Object> raw) {
        if (LlavaConfig.isLlava(raw)) {
            return LlavaConfig.parse(raw).toModelConfig(new LinkedHashMap<>(raw));
        }
        ArchConfig a = ArchConfig.parse(raw);
        return a.toModelConfig(new LinkedHashMap<>(raw));
    }

    /** Reads and validates {@code config.json} of {@code dir}. */
    public static ModelConfig read(Path dir) throws IOException {
        Path file = dir.resolve("config.json");
        Map<String, Object> raw = Json.readMap(file);
        try {
            return fromMap(raw);
        } catch (IllegalArgumentException e) {
            throw new InvalidFileException(file, e.getMessage(), e);
        }
    }

    /**
     * The {@code config.json} content of {@code config}: its raw map with the record fields written
     * back under the architecture's own key names (the record wins over stale raw values).
     */
    public static Map<String, Object> toMap(ModelConfig config) {
        return isLlava(config) ? LlavaConfig.mergeRecord(config) : ArchConfig.mergeRecord(config);
    }

    /** Whether {@code config} is a LLaVA model's. */
    public static boolean isLlava(ModelConfig config) {
        return LlavaConfig.MODEL_TYPE.equals(config.modelType());
    }

    /** The parsed architecture of {@code config}: a text model's, or a LLaVA model's language model. */
    public static ArchConfig arch(ModelConfig config) {
        return isLlava(config) ? LlavaConfig.parse(toMap(config)).text : ArchConfig.parse(toMap(config));
    }
}
