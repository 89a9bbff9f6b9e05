package org.distillery.charts;

import java.io.IOException;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.gson.stream.JsonWriter;

/**
 * A run's {@code report.html}: the results table and the run's curves (every metric of its
 * event log, one line per stage, checkpoints and swaps marked), drawn by the same uPlot charts as
 * the dashboard. Everything is inside the one file (uPlot, the chart script, the styles and the
 * curves, downsampled to {@link #MAX_POINTS} points each), so it opens from disk with no server
 * and no network. Its Content-Security-Policy allows only those inline scripts and styles, by hash.
 */
public final class RunReport {

    /** Points per curve in the report (min/max downsampling keeps the extremes). */
    public static final int MAX_POINTS = 2000;

    private RunReport() {
    }

    /**
     * The report's HTML.
     *
     * @param runDir the run directory (its {@code events.jsonl} is read)
     * @param title a heading
     * @param table rows (model name) to columns (metric) to cell text
     */
    public static String html(Path runDir, String title, Map<String, Map<String, String>> table) throws IOException {
        RunLog log = RunLog.read(runDir.resolve("events.jsonl"));
        StringWriter data = new StringWriter();
        try (JsonWriter w = new JsonWriter(data)) {
            // HTML-safe: '<', '>' and '&' become \\u escapes, so the data cannot close its script element
            w.setHtmlSafe(true);
            log.writeCurves(w, MAX_POINTS);
        }
        List<String> scripts = List.of(WebAssets.text(WebAssets.UPLOT_JS), WebAssets.text(WebAssets.CHARTS_JS));
        List<String> styles = List.of(WebAssets.text(WebAssets.UPLOT_CSS), WebAssets.text(WebAssets.CHARTS_CSS));
        StringBuilder html = new StringBuilder(256 * 1024);
        html.append("<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\n")
                .append("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; script-src")
                .append(hashes(scripts)).append("; style-src").append(hashes(styles))
                .append("; img-src data:; base-uri 'none'; form-action 'none'\">\n")
                .append("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n")
                .append("<title>").append(escape(title)).append("</title>\n");
        for (String s : styles) {
            html.append("<style>").append(s).append("</style>\n");
        }
        html.append("</head><body><main>\n<h1>").append(escape(title)).append("</h1>\n");
        html.append("<p class=\"muted\">").append(escape(runDir.toAbsolutePath().normalize().getFileName().toString()))
                .append(" &middot; ").append(log.lines()).append(" events</p>\n");
        if (!table.isEmpty()) {
            html.append("<h2>Results</h2>\n").append(table(table));
        }
        html.append("<h2>Curves</h2>\n<div id=\"distill-report-charts\"></div>\n");
        html.append("<script type=\"application/json\" id=\"distill-report-data\">").append(data).append("</script>\n");
        for (String s : scripts) {
            html.append("<script>").append(s).append("</script>\n");
        }
        html.append("</main></body></html>\n");
        return html.toString();
    }

    private static String table(Map<String, Map<String, String>> table) {
        Set<String> columns = new LinkedHashSet<>();
        table.values().forEach(r -> columns.addAll(r.keySet()));
        StringBuilder t = new StringBuilder("<table class=\"data\"><thead><tr><th>model</th>");
        columns.forEach(c -> t.append("<th>").append(escape(c)).append("</th>"));
        t.append("</tr></thead><tbody>");
        table.forEach((row, cells) -> {
            t.append("<tr><td>").append(escape(row)).append("</td>");
            columns.forEach(c -> t.append("<td>").append(escape(cells.getOrDefault(c, ""))).append("</td>"));
            t.append("</tr>");
        });
        return t.append("</tbody></table>\n").toString();
    }

    /** {@code  'sha256-...'} for each text, for a CSP source list. */
    static String hashes(List<String> texts) {
        List<String> out = new ArrayList<>();
        for (String t : texts) {
            out.add(" 'sha256-" + sha256(t) + "'");
        }
        return String.join("", out);
    }

    /** The base64 SHA-256 of a text's UTF-8 bytes (CSP hash source). */
    public static String sha256(String text) {
        try {
            return Base64.getEncoder().encodeToString(MessageDigest.getInstance("SHA-256")
                    .digest(text.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Escapes text for HTML element content and attribute values. */
    public static String escape(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;")
                .replace("'", "&#39;");
    }
}
