package org.distillery.data.synthetic;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.distillery.api.data.Example;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.data.JsonlDataService;

/**
 * A generated suite: its settings, world, three instruction splits and pre-training corpus.
 *
 * @param settings the settings it was generated from
 * @param world the generated world
 * @param train training examples (prompt/response pairs)
 * @param validation validation examples
 * @param test test examples
 * @param corpus plain-text pre-training records drawn from the same world
 */
public record Suite(SuiteSettings settings, World world, List<Example> train, List<Example> validation,
                    List<Example> test, List<Example> corpus) {

    /** Name of the training split. */
    public static final String TRAIN = "train";
    /** Name of the validation split. */
    public static final String VALIDATION = "validation";
    /** Name of the test split. */
    public static final String TEST = "test";
    /** Name of the corpus. */
    public static final String CORPUS = "corpus";
    /** The splits, in file order. */
    public static final List<String> SPLITS = List.of(TRAIN, VALIDATION, TEST);
    /** File holding the settings and counts. */
    public static final String SUITE_FILE = "suite.json";

    /** The examples of a split or of the corpus, by name. */
    public List<Example> split(String name) {
        return switch (name) {
            case TRAIN -> train;
            case VALIDATION -> validation;
            case TEST -> test;
            case CORPUS -> corpus;
            default -> throw new IllegalArgumentException("unknown split '" + name + "' (accepted: train, "
                    + "validation, test, corpus)");
        };
    }

    /** The file a split (or the corpus) is written to: {@code <name>.jsonl}. */
    public static String fileName(String split) {
        return split + ".jsonl";
    }

    /**
     * Writes {@code train.jsonl}, {@code validation.jsonl}, {@code test.jsonl}, {@code corpus.jsonl}
     * and {@code suite.json} into {@code dir} (created if missing), each file atomically.
     */
    public void write(Path dir) throws IOException {
        Files.createDirectories(dir);
        JsonlDataService data = new JsonlDataService();
        for (String split : SPLITS) {
            data.writeJsonl(dir.resolve(fileName(split)), split(split));
        }
        data.writeJsonl(dir.resolve(fileName(CORPUS)), corpus);
        String json = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(summary());
        AtomicFiles.writeString(dir.resolve(SUITE_FILE), json + "\n");
    }

    /** The content of {@code suite.json}: format, settings, world size and per-split counts by task. */
    public JsonObject summary() {
        JsonObject o = new JsonObject();
        o.addProperty("format", "distillery-synthetic-suite");
        o.addProperty("version", 2);
        o.add("settings", settings.toJson());
        JsonObject w = new JsonObject();
        w.addProperty("people", world.people().size());
        w.addProperty("animals", world.animals().size());
        w.addProperty("cities", world.cities().size());
        w.addProperty("facts", world.facts().size());
        o.add("world", w);
        JsonObject files = new JsonObject();
        JsonObject counts = new JsonObject();
        for (String split : SPLITS) {
            files.addProperty(split, fileName(split));
            List<Example> examples = split(split);
            JsonObject c = new JsonObject();
            c.addProperty("total", examples.size());
            JsonObject byTask = new JsonObject();
            Map<String, Integer> perTask = new TreeMap<>();
            for (Task t : Task.values()) {
                perTask.put(t.key(), 0);
            }
            int yes = 0;
            for (Example e : examples) {
                perTask.merge(e.meta().get("task"), 1, Integer::sum);
                if ("yes".equals(e.meta().get("label"))) {
                    yes++;
                }
            }
            for (Task t : Task.values()) {
                byTask.addProperty(t.key(), perTask.get(t.key()));
            }
            c.add("tasks", byTask);
            c.addProperty("yesnoYes", yes);
            c.addProperty("yesnoNo", perTask.get(Task.YESNO.key()) - yes);
            counts.add(split, c);
        }
        files.addProperty(CORPUS, fileName(CORPUS));
        JsonObject corpusCounts = new JsonObject();
        corpusCounts.addProperty("total", corpus.size());
        counts.add(CORPUS, corpusCounts);
        o.add("files", files);
        o.add("counts", counts);
        return o;
    }

    /** Reads the settings back from a suite folder's {@code suite.json}, e.g. to regenerate it. */
    public static SuiteSettings readSettings(Path dir) throws IOException {
        Path file = dir.resolve(SUITE_FILE);
        try {
            JsonObject o = JsonParser.parseString(Files.readString(file)).getAsJsonObject();
            return SuiteSettings.fromJson(o.getAsJsonObject("settings"));
        } catch (RuntimeException e) {
            throw new IOException(file + ": not a suite description: " + e.getMessage(), e);
        }
    }
}
