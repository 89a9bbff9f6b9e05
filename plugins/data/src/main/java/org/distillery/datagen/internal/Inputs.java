package org.distillery.datagen.internal;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.kit.config.Params;

/**
 * Where a generator reads a dataset from: a JSONL path, or {@code stage:<name>} for the
 * {@code data.jsonl} an earlier {@code data.generate} stage of the same run wrote (the same
 * convention as the {@code data.dataset} sampler's {@code file}).
 */
final class Inputs {

    private Inputs() {
    }

    /** Checks the shape of a reference without touching the disk (a stage's file appears later). */
    static void check(String ref, String path) {
        if (ref.isBlank()) {
            throw new InvalidConfigException(path, "is required", "\"\"", "a JSONL file, or stage:<name> of an earlier stage");
        }
        if (ref.startsWith(Datasets.STAGE_PREFIX) && !ref.substring(Datasets.STAGE_PREFIX.length()).matches("[a-z0-9][a-z0-9.-]*")) {
            throw new InvalidConfigException(path, "not a stage name", Params.quote(ref), "stage:<lowercase name>");
        }
        if (!ref.startsWith(Datasets.STAGE_PREFIX) && !Files.isRegularFile(Path.of(ref))) {
            throw new InvalidConfigException(path, "file not found", Params.quote(ref), "an existing JSONL file");
        }
    }

    /** The text a judge or a scorer sees as the request part of a record. */
    static String promptOf(Example e) {
        if (e.prompt() != null) {
            return e.prompt();
        }
        if (!e.messages().isEmpty()) {
            StringBuilder sb = new StringBuilder();
            List<Example.Message> m = e.messages();
            int last = m.get(m.size() - 1).role().equals("assistant") ? m.size() - 1 : m.size();
            for (int i = 0; i < last; i++) {
                sb.append(m.get(i).role()).append(": ").append(m.get(i).content()).append('\n');
            }
            return sb.toString().strip();
        }
        return "";
    }
}
