package org.distillery.datagen.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.run.RunContext;

/**
 * Where a generator reads a dataset from: a JSONL path, or {@code stage:<name>} for the
 * {@code data.jsonl} an earlier {@code data.generate} stage of the same run wrote (the same
 * convention as the {@code data.dataset} sampler's {@code file}).
 */
final class Inputs {

    /** The prefix naming an earlier stage's dataset. */
    static final String STAGE_PREFIX = "stage:";

    private Inputs() {
    }

    /** Checks the shape of a reference without touching the disk (a stage's file appears later). */
    static void check(String ref, String path) {
        if (ref.isBlank()) {
            throw new InvalidConfigException(path, "is required", "\"\"", "a JSONL file, or stage:<name> of an earlier stage");
        }
        if (ref.startsWith(STAGE_PREFIX) && !ref.substring(STAGE_PREFIX.length()).matches("[a-z0-9][a-z0-9.-]*")) {
            throw new InvalidConfigException(path, "not a stage name", Params.quote(ref), "stage:<lowercase name>");
        }
        if (!ref.startsWith(STAGE_PREFIX) && !Files.isRegularFile(Path.of(ref))) {
            throw new InvalidConfigException(path, "file not found", Params.quote(ref), "an existing JSONL file");
        }
    }

    /** The file a reference names in {@code run}. */
    static Path resolve(RunContext run, String ref) {
        return ref.startsWith(STAGE_PREFIX)
                ? run.runDir().resolve("stages").resolve(ref.substring(STAGE_PREFIX.length())).resolve("data.jsonl")
                : Path.of(ref);
    }

    /** Reads the dataset a reference names. */
    static List<Example> read(RunContext run, String ref, String path) {
        Path f = resolve(run, ref);
        if (!Files.isRegularFile(f)) {
            throw new InvalidConfigException(path, ref.startsWith(STAGE_PREFIX)
                    ? "names a stage that has written no data.jsonl (it must be an earlier data stage)"
                    : "file not found", Params.quote(ref), "a JSONL file, or stage:<name> of an earlier stage");
        }
        try {
            return run.data().readJsonl(f);
        } catch (IOException e) {
            throw new InvalidConfigException(path, e.getMessage(), Params.quote(ref), "a readable JSONL file");
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

    /** The text a judge or a scorer rates: the response, the last assistant turn, or the text. */
    static String responseOf(Example e) {
        if (e.prompt() != null) {
            return e.response() == null ? "" : e.response();
        }
        if (!e.messages().isEmpty()) {
            Example.Message last = e.messages().get(e.messages().size() - 1);
            return last.role().equals("assistant") ? last.content() : "";
        }
        return e.text() == null ? "" : e.text();
    }
}
