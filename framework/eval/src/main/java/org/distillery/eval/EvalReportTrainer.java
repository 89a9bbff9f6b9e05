package org.distillery.eval;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.Trainer;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.teachers.RunTeachers;
import org.distillery.charts.RunReport;

/**
 * {@code eval.report}: evaluates the teacher and the models of earlier stages on a data split,
 * writes {@code eval/<model>.json} for each, {@code results.md} with one table, and
 * {@code report.html} with the table and the loss curves.
 */
public final class EvalReportTrainer implements Trainer {

    /** Registry key. */
    public static final String KEY = "eval.report";

    @Override
    public StageResult run(RunContext run, Stage stage) throws Exception {
        if (!(stage instanceof StageSpec spec)) {
            throw new IllegalArgumentException(KEY + " runs stages with their own parameters, not " + stage);
        }
        Config p = spec.params();
        String split = p.getString("split");
        Datasets.Split which = switch (split) {
            case "train" -> Datasets.Split.TRAIN;
            case "validation" -> Datasets.Split.VALIDATION;
            case "test" -> Datasets.Split.TEST;
            default -> throw new InvalidConfigException("method.params.evaluate.split", "unknown split", split,
                    "train, validation, test");
        };
        List<Example> examples = run.datasets().read("", which, KEY);
        int limit = p.getInt("limit");
        if (limit > 0 && examples.size() > limit) {
            examples = examples.subList(0, limit);
        }
        List<Evaluator.MetricSpec> metrics = Evaluator.specs(p.getConfigList("metrics"));
        Evaluator evaluator = new Evaluator(run, p.getInt("max-new-tokens"), p.getInt("batch-size"));
        Map<String, Map<String, Double>> results = new LinkedHashMap<>();
        Tokenizer tok = RunTeachers.tokenizer(run.models(), run.config());
        try (Teacher teacher = RunTeachers.open(run, run.config(), tok, run.config().getInt("train.max-length"),
                run.runDir().toAbsolutePath().getParent())) {
            LanguageModel teacherModel = teacher == null ? null : teacher.model().orElse(null);
            List<String> names = new ArrayList<>();
            if (teacherModel != null && p.getBoolean("include-teacher")) {
                names.add("teacher");
            }
            names.addAll(p.getStringList("students"));
            for (String name : names) {
                if (run.stopRequested()) {
                    return new StageResult(0, null, Map.of(), true);
                }
                Map<String, Double> figures;
                long t0 = System.nanoTime();
                if (name.equals("teacher")) {
                    figures = evaluate(run, evaluator, teacherModel, teacherModel, tok, examples, metrics, name);
                } else {
                    Path model = stageModel(run, name);
                    try (NDManager m = run.manager().newSubManager();
                         LanguageModel student = run.models().load(model, DataType.FLOAT32, m)) {
                        figures = evaluate(run, evaluator, student, teacherModel, tok, examples, metrics, name);
                    }
                }
                results.put(name, figures);
                run.events().event("evaluated", Map.of("model", name, "seconds", (System.nanoTime() - t0) / 1e9,
                        "metrics", figures));
            }
        }
        List<String> columns = p.getStringList("columns");
        String table = table(results, columns);
        AtomicFiles.writeString(run.runDir().resolve("results.md"), table);
        Map<String, Map<String, String>> cells = new LinkedHashMap<>();
        results.forEach((model, figs) -> {
            Map<String, String> row = new LinkedHashMap<>();
            for (String c : columns.isEmpty() ? new ArrayList<>(figs.keySet()) : columns) {
                if (figs.containsKey(c)) {
                    row.put(c, format(figs.get(c)));
                }
            }
            cells.put(model, row);
        });
        AtomicFiles.writeString(run.runDir().resolve("report.html"), RunReport.html(run.runDir(),
                run.config().getString("experiment.name") + " (" + split + " split, " + examples.size() + " records)",
                cells));
        Map<String, Double> flat = new LinkedHashMap<>();
        results.forEach((model, figs) -> figs.forEach((k, v) -> flat.put(model + "." + k, v)));
        return new StageResult(0, null, flat, false);
    }

    private static Map<String, Double> evaluate(RunContext run, Evaluator evaluator, LanguageModel model,
                                                LanguageModel teacher, Tokenizer tok, List<Example> examples,
                                                List<Evaluator.MetricSpec> metrics, String name) throws Exception {
        Evaluator.Result r = evaluator.evaluate(model, teacher, tok, examples, metrics);
        Evaluator.write(Evaluator.evalFile(run.runDir(), name), Map.of("model", name), r, examples);
        return r.figures();
    }

    /** The model a finished stage selected (its result.json), else its best or final folder. */
    public static Path stageModel(RunContext run, String stage) throws java.io.IOException {
        Path dir = run.runDir().resolve("stages").resolve(stage);
        Path result = dir.resolve("result.json");
        if (Files.exists(result)) {
            var o = com.google.gson.JsonParser.parseString(Files.readString(result)).getAsJsonObject();
            if (o.has("model") && !o.get("model").isJsonNull()) {
                return Path.of(o.get("model").getAsString());
            }
        }
        for (String sub : List.of("best", "final")) {
            if (Files.exists(dir.resolve(sub).resolve("config.json"))) {
                return dir.resolve(sub);
            }
        }
        throw new IllegalStateException("stage " + stage + " left no model in " + dir);
    }

    /** A Markdown table: one row per model, one column per figure. */
    static String table(Map<String, Map<String, Double>> results, List<String> columns) {
        List<String> cols = new ArrayList<>(columns);
        if (cols.isEmpty()) {
            results.values().forEach(f -> f.keySet().forEach(k -> {
                if (!cols.contains(k)) {
                    cols.add(k);
                }
            }));
        }
        StringBuilder sb = new StringBuilder("| model |");
        cols.forEach(c -> sb.append(' ').append(c).append(" |"));
        sb.append("\n|---|");
        cols.forEach(c -> sb.append("---:|"));
        sb.append('\n');
        results.forEach((model, figs) -> {
            sb.append("| ").append(model).append(" |");
            cols.forEach(c -> sb.append(' ').append(figs.containsKey(c) ? format(figs.get(c)) : "").append(" |"));
            sb.append('\n');
        });
        return sb.toString();
    }

    private static String format(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        return Math.abs(v) >= 100 ? String.format(Locale.ROOT, "%.1f", v) : String.format(Locale.ROOT, "%.4f", v);
    }

    /** The factory. */
    public static final class Factory implements TrainerFactory {

        @Override
        public String description() {
            return "evaluate the teacher and earlier stages' models on a split; results.md and report.html";
        }

        @Override
        public Trainer create() {
            return new EvalReportTrainer();
        }
    }
}
