package org.distillery.eval;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import org.distillery.kit.io.AtomicFiles;

/**
 * Writes a run's {@code report.html}: the results table and the training-loss curve of every
 * stage (with its validation loss points) as inline SVG, read from {@code events.jsonl}.
 */
public final class ReportWriter {

    private static final String[] COLORS = {"#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b",
        "#e377c2", "#17becf"};

    private ReportWriter() {
    }

    /** Loss series per stage: training (step, loss) and validation (step, val.loss). */
    record Curves(Map<String, List<double[]>> train, Map<String, List<double[]>> validation) {
    }

    static Curves curves(Path events) throws IOException {
        Map<String, List<double[]>> train = new LinkedHashMap<>();
        Map<String, List<double[]>> val = new LinkedHashMap<>();
        if (!Files.exists(events)) {
            return new Curves(train, val);
        }
        for (String line : Files.readAllLines(events)) {
            if (!line.startsWith("{")) {
                continue;
            }
            JsonObject e = JsonParser.parseString(line).getAsJsonObject();
            String type = e.get("type").getAsString();
            if (type.equals("step") && e.has("stage") && e.has("loss")) {
                train.computeIfAbsent(e.get("stage").getAsString(), k -> new ArrayList<>())
                        .add(new double[] {e.get("step").getAsDouble(), e.get("loss").getAsDouble()});
            } else if (type.equals("eval") && e.has("val.loss")) {
                val.computeIfAbsent(e.get("stage").getAsString(), k -> new ArrayList<>())
                        .add(new double[] {e.get("step").getAsDouble(), e.get("val.loss").getAsDouble()});
            }
        }
        return new Curves(train, val);
    }

    /**
     * Writes the report.
     *
     * @param runDir the run directory (its events.jsonl is read; report.html is written there)
     * @param title a heading
     * @param table rows (model name) to columns (metric) to cell text
     */
    public static Path write(Path runDir, String title, Map<String, Map<String, String>> table) throws IOException {
        Curves c = curves(runDir.resolve("events.jsonl"));
        StringBuilder html = new StringBuilder();
        html.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>").append(esc(title))
                .append("</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                        + "td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}th:first-child,td:first-child"
                        + "{text-align:left}</style></head><body><h1>").append(esc(title)).append("</h1>");
        Set<String> columns = new TreeSet<>();
        table.values().forEach(r -> columns.addAll(r.keySet()));
        html.append("<h2>Results</h2><table><tr><th>model</th>");
        columns.forEach(col -> html.append("<th>").append(esc(col)).append("</th>"));
        html.append("</tr>");
        table.forEach((row, cells) -> {
            html.append("<tr><td>").append(esc(row)).append("</td>");
            columns.forEach(col -> html.append("<td>").append(esc(cells.getOrDefault(col, ""))).append("</td>"));
            html.append("</tr>");
        });
        html.append("</table><h2>Training loss</h2>").append(svg(c)).append("</body></html>\n");
        Path out = runDir.resolve("report.html");
        AtomicFiles.writeString(out, html.toString());
        return out;
    }

    static String svg(Curves c) {
        int w = 720;
        int h = 360;
        int pad = 50;
        double maxStep = 1;
        double minLoss = Double.POSITIVE_INFINITY;
        double maxLoss = Double.NEGATIVE_INFINITY;
        for (List<double[]> series : c.train().values()) {
            for (double[] p : series) {
                maxStep = Math.max(maxStep, p[0]);
                if (Double.isFinite(p[1])) {
                    minLoss = Math.min(minLoss, p[1]);
                    maxLoss = Math.max(maxLoss, p[1]);
                }
            }
        }
        if (!Double.isFinite(minLoss)) {
            return "<p>no training steps recorded</p>";
        }
        if (maxLoss - minLoss < 1e-9) {
            maxLoss = minLoss + 1;
        }
        StringBuilder svg = new StringBuilder();
        svg.append(String.format(Locale.ROOT, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\">", w, h));
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>", pad,
                h - pad, w - 10, h - pad));
        svg.append(String.format(Locale.ROOT, "<line x1=\"%d\" y1=\"10\" x2=\"%d\" y2=\"%d\" stroke=\"black\"/>", pad, pad,
                h - pad));
        svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"11\">step %.0f</text>", w - 90, h - pad + 30,
                maxStep));
        svg.append(String.format(Locale.ROOT, "<text x=\"2\" y=\"20\" font-size=\"11\">%.3f</text>", maxLoss));
        svg.append(String.format(Locale.ROOT, "<text x=\"2\" y=\"%d\" font-size=\"11\">%.3f</text>", h - pad, minLoss));
        int i = 0;
        for (Map.Entry<String, List<double[]>> e : c.train().entrySet()) {
            String color = COLORS[i % COLORS.length];
            List<double[]> smooth = smooth(e.getValue(), Math.max(1, e.getValue().size() / 60));
            StringBuilder pts = new StringBuilder();
            for (double[] p : smooth) {
                pts.append(String.format(Locale.ROOT, "%.1f,%.1f ", x(p[0], maxStep, w, pad),
                        y(p[1], minLoss, maxLoss, h, pad)));
            }
            svg.append("<polyline fill=\"none\" stroke=\"").append(color).append("\" points=\"").append(pts)
                    .append("\"/>");
            for (double[] p : c.validation().getOrDefault(e.getKey(), List.of())) {
                double yy = Math.max(10, Math.min(h - pad, y(p[1], minLoss, maxLoss, h, pad)));
                svg.append(String.format(Locale.ROOT, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>",
                        x(p[0], maxStep, w, pad), yy, color));
            }
            svg.append(String.format(Locale.ROOT, "<text x=\"%d\" y=\"%d\" font-size=\"12\" fill=\"%s\">%s</text>",
                    w - 200, 20 + 16 * i, color, esc(e.getKey())));
            i++;
        }
        svg.append("</svg><p>Lines: training loss (moving average); dots: validation loss.</p>");
        return svg.toString();
    }

    private static List<double[]> smooth(List<double[]> s, int window) {
        List<double[]> out = new ArrayList<>();
        for (int i = 0; i < s.size(); i += window) {
            double step = 0;
            double loss = 0;
            int n = 0;
            for (int j = i; j < Math.min(s.size(), i + window); j++) {
                step = s.get(j)[0];
                loss += s.get(j)[1];
                n++;
            }
            out.add(new double[] {step, loss / n});
        }
        return out;
    }

    private static double x(double step, double maxStep, int w, int pad) {
        return pad + (w - pad - 10) * step / maxStep;
    }

    private static double y(double loss, double min, double max, int h, int pad) {
        return 10 + (h - pad - 10) * (1 - (loss - min) / (max - min));
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
