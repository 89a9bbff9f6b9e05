package org.distillery.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.DataService;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;

/**
 * The datasets of one run: the experiment's {@code data} block for empty references, and the
 * {@code stages/<name>/data.jsonl} files earlier stages of the run wrote for {@code stage:<name>}.
 */
public final class RunDatasets implements Datasets {

    private final Path runDir;
    private final Config data;
    private final DataService service;

    /**
     * The datasets of a run.
     *
     * @param runDir the run directory (where {@code stages/} lives)
     * @param data the experiment's {@code data} block ({@code train-file}, {@code validation-file}, {@code test-file})
     * @param service the reader
     */
    public RunDatasets(Path runDir, Config data, DataService service) {
        this.runDir = runDir;
        this.data = data;
        this.service = service;
    }

    @Override
    public Optional<Path> file(Split split) {
        String key = key(split);
        return data.hasPath(key) && !data.getString(key).isEmpty() ? Optional.of(Path.of(data.getString(key)))
                : Optional.empty();
    }

    @Override
    public Path resolve(String reference, Split split, String configPath) {
        if (reference == null || reference.isEmpty()) {
            return file(split).orElseThrow(() -> new InvalidConfigException("data." + key(split), "is required by "
                    + configPath + " (empty means the experiment's file)", "\"\"",
                    "a JSONL file of {prompt, response}, {messages} or {text} records"));
        }
        if (reference.startsWith(STAGE_PREFIX)) {
            String stage = reference.substring(STAGE_PREFIX.length());
            Path path = runDir.resolve("stages").resolve(stage).resolve("data.jsonl");
            if (!Files.isRegularFile(path)) {
                throw new InvalidConfigException(configPath, "no earlier stage of this run wrote " + path, reference,
                        "stage:<name of an earlier data stage>, or a JSONL file");
            }
            return path;
        }
        return Path.of(reference);
    }

    @Override
    public List<Example> read(String reference, Split split, String configPath) {
        Path path = resolve(reference, split, configPath);
        String where = reference == null || reference.isEmpty() ? "data." + key(split) : configPath;
        try {
            return service.readJsonl(path);
        } catch (JsonlFormatException e) {
            throw new InvalidConfigException(where, e.getMessage(), path.toString(), "a well-formed JSONL file");
        } catch (IOException e) {
            throw new InvalidConfigException(where, "cannot read " + path + ": " + e.getMessage(), path.toString(),
                    "a readable JSONL file");
        }
    }

    private static String key(Split split) {
        return switch (split) {
            case TRAIN -> "train-file";
            case VALIDATION -> "validation-file";
            case TEST -> "test-file";
        };
    }
}
