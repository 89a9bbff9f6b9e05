package org.distillery.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

/**
 * Compares runs: reads each run directory's {@code config.conf} (experiment name and seed),
 * {@code results.json} (each stage's metrics) and {@code eval/<model-name>.json} files
 * ({@link Evaluator#evalFile}), groups runs that differ only in their seed, and aggregates every
 * figure over the seeds of a group as mean ± sample standard deviation.
 *
 * <p>A row is {@code <experiment>/<model>}, where the experiment name has its seed suffix removed
 * ({@link #groupName}) and the model is a stage of {@code results.json} or the name of an eval
 * file; a stage and an eval file of the same name are one row.
 */
public final class RunComparison {

    /**
     * One run as read from its directory.
     *
     * @param dir the run directory
     * @param experiment {@code experiment.name}
     * @param seed {@code experiment.seed}
     * @param rows figures by model (stage or eval file name), in the order found
     */
    public record RunRecord(Path dir, String experiment, long seed, Map<String, Map<String, Double>> rows) {
    }

    /**
     * An aggregate over seeds.
     *
     * @param mean the mean of the finite values
     * @param std their sample standard deviation (n − 1 in the denominator); 0 when n = 1
     * @param n how many finite values there were
     */
    public record Cell(double mean, double std, int n) {
    }

    /**
     * The comparison.
     *
     * @param rows row labels in order
     * @param columns figure names in order
     * @param cells row → column → aggregate (absent when no run had that figure)
     * @param seeds row → the seeds that contributed
     */
    public record Table(List<String> rows, List<String> columns, Map<String, Map<String, Cell>> cells,
                        Map<String, List<Long>> seeds) {
    }

    /** Figures shown first, in this order, when present. */
    private static final List<String> PREFERRED = List.of("rouge-l", "exact-match", "lm-loss", "ppl", "distinct-4",
            "ece", "ece.accuracy", "judge.relative", "judge.score", "judge.logprob", "judge.win-rate");

    /** Detail figures left out unless asked for: counts and ExAccErr's two sums. */
    private static final List<String> DETAIL = List.of("ece.n", "lm-loss.tokens", "judge.n", "exaccerr-r@*",
            "exaccerr-eps@*", "exaccerr-alive-r@*", "exaccerr-alive-eps@*");

    private RunComparison() {
    }

    /**
     * Run directories under each path: the path itself when it holds a {@code config.conf},
     * otherwise its immediate sub-folders that do (a folder of runs), sorted by name.
     */
    public static List<Path> runDirs(List<Path> paths) throws IOException {
        List<Path> out = new ArrayList<>();
        for (Path p : paths) {
            if (Files.isRegularFile(p.resolve("config.conf"))) {
                out.add(p);
                continue;
            }
            if (Files.isDirectory(p)) {
                try (Stream<Path> s = Files.list(p)) {
                    s.filter(d -> Files.isRegularFile(d.resolve("config.conf"))).sorted().forEach(out::add);
                }
            }
        }
        return out;
    }

    /** Reads one run directory. */
    public static RunRecord read(Path runDir) throws IOException {
        Path conf = runDir.resolve("config.conf");
        if (!Files.isRegularFile(conf)) {
            throw new IOException(runDir + ": not a run directory (no config.conf)");
        }
        Config c = ConfigFactory.parseFile(conf.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
        String name = c.hasPath("experiment.name") ? c.getString("experiment.name") : "";
        if (name.isEmpty()) {
            name = runDir.getFileName().toString().replaceFirst("-\\d{8}-\\d{6}(-\\d+)?$", "");
        }
        long seed = c.hasPath("experiment.seed") ? c.getLong("experiment.seed") : 0L;
        Map<String, Map<String, Double>> rows = new LinkedHashMap<>();
        Path results = runDir.resolve("results.json");
        if (Files.isRegularFile(results)) {
            JsonObject o = JsonParser.parseString(Files.readString(results)).getAsJsonObject();
            for (Map.Entry<String, JsonElement> stage : o.entrySet()) {
                if (stage.getValue().isJsonObject() && stage.getValue().getAsJsonObject().has("metrics")) {
                    rows.computeIfAbsent(stage.getKey(), k -> new LinkedHashMap<>())
                            .putAll(numbers(stage.getValue().getAsJsonObject().get("metrics")));
                }
            }
        }
        Path evalDir = runDir.resolve("eval");
        if (Files.isDirectory(evalDir)) {
            List<Path> files;
            try (Stream<Path> s = Files.list(evalDir)) {
                files = s.filter(f -> f.getFileName().toString().endsWith(".json")).sorted().toList();
            }
            for (Path f : files) {
                String model = f.getFileName().toString().replaceFirst("\\.json$", "");
                JsonElement e = JsonParser.parseString(Files.readString(f));
                if (!e.isJsonObject()) {
                    continue;
                }
                JsonObject o = e.getAsJsonObject();
                rows.computeIfAbsent(model, k -> new LinkedHashMap<>())
                        .putAll(numbers(o.has("metrics") ? o.get("metrics") : o));
            }
        }
        dropSummaries(rows);
        return new RunRecord(runDir, name, seed, rows);
    }

    /**
     * Drops rows that only repeat other rows' figures under their names (an {@code eval.report}
     * stage's result holds {@code <model>.<figure>} for every model it evaluated).
     */
    private static void dropSummaries(Map<String, Map<String, Double>> rows) {
        rows.entrySet().removeIf(row -> !row.getValue().isEmpty() && row.getValue().keySet().stream().allMatch(k ->
                rows.keySet().stream().anyMatch(other -> !other.equals(row.getKey()) && k.startsWith(other + "."))));
    }

    /** The numeric members of a JSON object (NaN and infinities included). */
    private static Map<String, Double> numbers(JsonElement e) {
        Map<String, Double> out = new LinkedHashMap<>();
        if (e == null || !e.isJsonObject()) {
            return out;
        }
        for (Map.Entry<String, JsonElement> m : e.getAsJsonObject().entrySet()) {
            JsonElement v = m.getValue();
            if (v.isJsonPrimitive()) {
                try {
                    out.put(m.getKey(), v.getAsDouble());
                } catch (NumberFormatException | UnsupportedOperationException ex) {
                    // not a number
                }
            }
        }
        return out;
    }

    /**
     * The experiment name without its seed: a trailing {@code -seed<seed>}, {@code _seed<seed>},
     * {@code -s<seed>} or {@code -<seed>} (also with {@code _} or {@code .}) is removed.
     */
    public static String groupName(String experiment, long seed) {
        String s = Pattern.quote(Long.toString(seed));
        String stripped = experiment.replaceFirst("(?i)[-_.](seed|s)?[-_=]?" + s + "$", "");
        return stripped.isEmpty() ? experiment : stripped;
    }

    /** Mean and sample standard deviation of the finite values. */
    public static Cell aggregate(List<Double> values) {
        double sum = 0;
        int n = 0;
        for (double v : values) {
            if (Double.isFinite(v)) {
                sum += v;
                n++;
            }
        }
        if (n == 0) {
            return new Cell(Double.NaN, Double.NaN, 0);
        }
        double mean = sum / n;
        double sq = 0;
        for (double v : values) {
            if (Double.isFinite(v)) {
                sq += (v - mean) * (v - mean);
            }
        }
        return new Cell(mean, n > 1 ? Math.sqrt(sq / (n - 1)) : 0.0, n);
    }

    /**
     * Groups the runs by experiment name minus seed and aggregates each row's figures.
     *
     * @param columnFilter figure names to keep, in this order (a trailing {@code *} matches a prefix;
     *     {@code *} alone keeps everything); empty keeps all but the detail figures (counts, R(l), ε(l))
     */
    public static Table compare(List<RunRecord> runs, List<String> columnFilter) {
        Map<String, Map<String, List<Double>>> values = new LinkedHashMap<>();
        Map<String, List<Long>> seeds = new LinkedHashMap<>();
        Set<String> columns = new LinkedHashSet<>();
        for (RunRecord r : runs) {
            String group = groupName(r.experiment(), r.seed());
            for (Map.Entry<String, Map<String, Double>> row : r.rows().entrySet()) {
                String label = group + "/" + row.getKey();
                seeds.computeIfAbsent(label, k -> new ArrayList<>()).add(r.seed());
                Map<String, List<Double>> cols = values.computeIfAbsent(label, k -> new LinkedHashMap<>());
                for (Map.Entry<String, Double> f : row.getValue().entrySet()) {
                    if (columnFilter.isEmpty() ? !keep(f.getKey(), DETAIL) : keep(f.getKey(), columnFilter)) {
                        cols.computeIfAbsent(f.getKey(), k -> new ArrayList<>()).add(f.getValue());
                        columns.add(f.getKey());
                    }
                }
            }
        }
        List<String> ordered = new ArrayList<>();
        if (columnFilter.isEmpty() || columnFilter.equals(List.of("*"))) {
            for (String p : PREFERRED) {
                if (columns.contains(p)) {
                    ordered.add(p);
                }
            }
            columns.stream().filter(c -> !ordered.contains(c)).sorted(RunComparison::byNameThenLength)
                    .forEach(ordered::add);
        } else {
            for (String f : columnFilter) {
                columns.stream().filter(c -> keep(c, List.of(f)) && !ordered.contains(c))
                        .sorted(RunComparison::byNameThenLength).forEach(ordered::add);
            }
        }
        Map<String, Map<String, Cell>> cells = new LinkedHashMap<>();
        for (Map.Entry<String, Map<String, List<Double>>> row : values.entrySet()) {
            Map<String, Cell> m = new LinkedHashMap<>();
            for (Map.Entry<String, List<Double>> c : row.getValue().entrySet()) {
                m.put(c.getKey(), aggregate(c.getValue()));
            }
            cells.put(row.getKey(), m);
        }
        seeds.values().forEach(l -> l.sort(null));
        return new Table(List.copyOf(values.keySet()), ordered, cells, seeds);
    }

    private static boolean keep(String name, List<String> filter) {
        if (filter.isEmpty()) {
            return true;
        }
        for (String f : filter) {
            if (f.endsWith("*") ? name.startsWith(f.substring(0, f.length() - 1)) : name.equals(f)) {
                return true;
            }
        }
        return false;
    }

    /** Sorts {@code exaccerr@8} before {@code exaccerr@16}: by the text before the number, then the number. */
    private static int byNameThenLength(String a, String b) {
        int ia = a.lastIndexOf('@');
        int ib = b.lastIndexOf('@');
        if (ia > 0 && ib > 0 && a.substring(0, ia).equals(b.substring(0, ib))) {
            try {
                return Long.compare(Long.parseLong(a.substring(ia + 1)), Long.parseLong(b.substring(ib + 1)));
            } catch (NumberFormatException e) {
                return a.compareTo(b);
            }
        }
        return a.compareTo(b);
    }

    /** One cell as text: {@code mean ± std (n)}, {@code -} when empty. */
    public static String format(Cell c) {
        if (c == null || c.n() == 0) {
            return "-";
        }
        return number(c.mean()) + " ± " + number(c.std()) + " (" + c.n() + ")";
    }

    private static String number(double v) {
        double a = Math.abs(v);
        if (a != 0 && (a >= 1e5 || a < 1e-3)) {
            return String.format(Locale.ROOT, "%.3e", v);
        }
        return String.format(Locale.ROOT, a >= 100 ? "%.2f" : "%.4f", v);
    }

    /** The table as aligned text: one row per model, one column per figure. */
    public static String render(Table t) {
        List<List<String>> lines = new ArrayList<>();
        List<String> header = new ArrayList<>();
        header.add("method/model");
        header.addAll(t.columns());
        lines.add(header);
        for (String r : t.rows()) {
            List<String> line = new ArrayList<>();
            line.add(r);
            Map<String, Cell> m = t.cells().getOrDefault(r, Map.of());
            for (String c : t.columns()) {
                line.add(format(m.get(c)));
            }
            lines.add(line);
        }
        int[] width = new int[header.size()];
        for (List<String> l : lines) {
            for (int i = 0; i < l.size(); i++) {
                width[i] = Math.max(width[i], l.get(i).length());
            }
        }
        StringBuilder sb = new StringBuilder();
        for (int k = 0; k < lines.size(); k++) {
            List<String> l = lines.get(k);
            for (int i = 0; i < l.size(); i++) {
                String cell = l.get(i);
                sb.append(i == 0 ? pad(cell, width[i], false) : "  " + pad(cell, width[i], true));
            }
            sb.append('\n');
            if (k == 0) {
                int total = 0;
                for (int w : width) {
                    total += w + 2;
                }
                sb.append("-".repeat(Math.max(0, total - 2))).append('\n');
            }
        }
        sb.append("cells: mean ± sample std over seeds (number of runs)\n");
        return sb.toString();
    }

    private static String pad(String s, int w, boolean right) {
        String fill = " ".repeat(Math.max(0, w - s.length()));
        return right ? fill + s : s + fill;
    }

    /** The table as JSON: {@code {rows: {label: {seeds: [...], figure: {mean, std, n}}}}}. */
    public static String toJson(Table t) {
        JsonObject rows = new JsonObject();
        for (String r : t.rows()) {
            JsonObject row = new JsonObject();
            com.google.gson.JsonArray seeds = new com.google.gson.JsonArray();
            t.seeds().getOrDefault(r, List.of()).forEach(seeds::add);
            row.add("seeds", seeds);
            for (String c : t.columns()) {
                Cell cell = t.cells().getOrDefault(r, Map.of()).get(c);
                if (cell != null) {
                    JsonObject o = new JsonObject();
                    o.addProperty("mean", cell.mean());
                    o.addProperty("std", cell.std());
                    o.addProperty("n", cell.n());
                    row.add(c, o);
                }
            }
            rows.add(r, row);
        }
        JsonObject out = new JsonObject();
        out.add("rows", rows);
        return new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues().create().toJson(out) + "\n";
    }
}
