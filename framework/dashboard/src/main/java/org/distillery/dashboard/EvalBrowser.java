package org.distillery.dashboard;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;

import org.distillery.eval.TextMetrics;

/**
 * A run's evaluations: the models of {@code eval/<model>.json} with their metrics, and each
 * model's predictions ({@code eval/<model>.predictions.jsonl}) beside the references, with the
 * task family, Rouge-L (longest common subsequence F-measure on lower-cased tokens, as
 * {@code eval.rouge-l} computes it) and exact match of every record; filtered by task and sorted
 * on request. Records written before predictions carried their task are matched by id to the
 * run's test or validation file when it is still there.
 */
final class EvalBrowser {

    /** Sort orders the predictions table offers. */
    enum Sort { FILE, ROUGE_ASC, ROUGE_DESC }

    /**
     * One prediction.
     *
     * @param id the record's id
     * @param task its task family, or empty
     * @param prompt the prompt
     * @param reference the reference response
     * @param prediction what the model answered
     * @param rougeL Rouge-L of the prediction against the reference
     * @param exact 1 when they match after normalisation, else 0
     */
    record Row(String id, String task, String prompt, String reference, String prediction, double rougeL,
               double exact) {
    }

    /**
     * A page of predictions.
     *
     * @param total rows that pass the filter
     * @param tasks every task family in the file
     * @param rows the page
     */
    record Page(int total, List<String> tasks, List<Row> rows) {
    }

    private EvalBrowser() {
    }

    /** The evaluated models (names of {@code eval/*.json}), in file-name order. */
    static List<String> models(Path runDir) throws IOException {
        Path eval = runDir.resolve("eval");
        if (!Files.isDirectory(eval)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(eval)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.endsWith(".json"))
                    .map(n -> n.substring(0, n.length() - 5)).sorted().toList();
        }
    }

    /** {@code {models: [{name, metrics, predictions}], columns: [...]}} for the run. */
    static JsonObject summary(Path runDir) throws IOException {
        JsonArray models = new JsonArray();
        Set<String> columns = new LinkedHashSet<>();
        for (String m : models(runDir)) {
            JsonObject row = new JsonObject();
            row.addProperty("name", m);
            JsonObject metrics = new JsonObject();
            try {
                JsonElement e = JsonParser.parseString(Files.readString(runDir.resolve("eval").resolve(m + ".json")));
                if (e.isJsonObject() && e.getAsJsonObject().has("metrics")
                        && e.getAsJsonObject().get("metrics").isJsonObject()) {
                    metrics = e.getAsJsonObject().getAsJsonObject("metrics");
                }
            } catch (JsonParseException | IOException e) {
                row.addProperty("error", "unreadable: " + e.getMessage());
            }
            metrics.keySet().forEach(columns::add);
            row.add("metrics", metrics);
            row.addProperty("predictions", Files.isRegularFile(predictionsFile(runDir, m)));
            models.add(row);
        }
        JsonObject o = new JsonObject();
        o.add("models", models);
        JsonArray cols = new JsonArray();
        columns.forEach(cols::add);
        o.add("columns", cols);
        return o;
    }

    /**
     * A page of a model's predictions; empty when the model is not one of {@link #models} (the
     * name from the request is checked against the listing, never used as a path as given).
     */
    static Optional<Page> predictions(Path runDir, Config config, String model, String task, Sort sort, int offset,
                                      int limit) throws IOException {
        if (model == null || !models(runDir).contains(model)) {
            return Optional.empty();
        }
        Path file = predictionsFile(runDir, model);
        if (!Files.isRegularFile(file)) {
            return Optional.of(new Page(0, List.of(), List.of()));
        }
        List<Row> rows = new ArrayList<>();
        List<String> lines = Files.readAllLines(file);
        Map<String, String> tasksById = null;
        for (String line : lines) {
            if (line.isBlank()) {
                continue;
            }
            JsonObject o;
            try {
                o = JsonParser.parseString(line).getAsJsonObject();
            } catch (JsonParseException | IllegalStateException e) {
                continue;
            }
            String id = text(o, "id");
            String t = o.has("meta") && o.get("meta").isJsonObject() ? text(o.getAsJsonObject("meta"), "task") : "";
            if (t.isEmpty()) {
                if (tasksById == null) {
                    tasksById = tasksFromData(config);
                }
                t = tasksById.getOrDefault(id, "");
            }
            String ref = text(o, "reference");
            String pred = text(o, "prediction");
            rows.add(new Row(id, t, text(o, "prompt"), ref, pred, TextMetrics.rougeL(pred, ref, false),
                    TextMetrics.exactMatch(pred, ref)));
        }
        Set<String> tasks = new TreeSet<>();
        rows.forEach(r -> {
            if (!r.task().isEmpty()) {
                tasks.add(r.task());
            }
        });
        List<Row> kept = rows.stream().filter(r -> task == null || task.isEmpty() || r.task().equals(task)).toList();
        if (sort == Sort.ROUGE_ASC) {
            kept = kept.stream().sorted(Comparator.comparingDouble(Row::rougeL)).toList();
        } else if (sort == Sort.ROUGE_DESC) {
            kept = kept.stream().sorted(Comparator.comparingDouble(Row::rougeL).reversed()).toList();
        }
        int from = Math.min(Math.max(0, offset), kept.size());
        int to = Math.min(kept.size(), from + Math.max(0, limit));
        return Optional.of(new Page(kept.size(), List.copyOf(tasks), kept.subList(from, to)));
    }

    /** Parses a sort parameter: {@code rouge-l} (ascending), {@code -rouge-l} (descending), else file order. */
    static Sort sort(String p) {
        if (p == null) {
            return Sort.FILE;
        }
        return switch (p.toLowerCase(Locale.ROOT)) {
            case "rouge-l", "+rouge-l" -> Sort.ROUGE_ASC;
            case "-rouge-l" -> Sort.ROUGE_DESC;
            default -> Sort.FILE;
        };
    }

    private static Path predictionsFile(Path runDir, String model) {
        return runDir.resolve("eval").resolve(model + ".predictions.jsonl");
    }

    /** Task families by record id from the run's test and validation files, if they still exist. */
    private static Map<String, String> tasksFromData(Config config) {
        Map<String, String> out = new HashMap<>();
        if (config == null) {
            return out;
        }
        for (String key : List.of("data.test-file", "data.validation-file")) {
            if (!config.hasPath(key) || config.getString(key).isEmpty()) {
                continue;
            }
            Path f = Path.of(config.getString(key));
            if (!Files.isRegularFile(f)) {
                continue;
            }
            try (Stream<String> lines = Files.lines(f)) {
                lines.forEach(l -> {
                    try {
                        JsonObject o = JsonParser.parseString(l).getAsJsonObject();
                        if (o.has("meta") && o.get("meta").isJsonObject()) {
                            out.putIfAbsent(text(o, "id"), text(o.getAsJsonObject("meta"), "task"));
                        }
                    } catch (JsonParseException | IllegalStateException e) {
                        // not a record
                    }
                });
            } catch (IOException | java.io.UncheckedIOException e) {
                // the data moved away: the tasks stay unknown
            }
        }
        return out;
    }

    private static String text(JsonObject o, String member) {
        JsonElement e = o.get(member);
        return e == null || e.isJsonNull() ? "" : e.isJsonPrimitive() ? e.getAsString() : e.toString();
    }
}
