package org.distillery.charts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunReportTest {

    @TempDir
    Path dir;

    @Test
    void selfContainedWithItsCurvesAndAHashPinnedPolicy() throws Exception {
        Files.writeString(dir.resolve("events.jsonl"), String.join("\n", RunLogTest.LINES) + "\n"
                + "{\"type\":\"step\",\"stage\":\"<script>alert(1)</script>\",\"step\":1,\"loss\":1}\n");
        Map<String, Map<String, String>> table = new LinkedHashMap<>();
        table.put("sft", Map.of("rouge-l", "0.1500"));
        table.put("teacher <b>", Map.of("rouge-l", "0.3500"));
        String html = RunReport.html(dir, "smoke & co", table);

        assertTrue(html.contains("<title>smoke &amp; co</title>"));
        assertTrue(html.contains("<td>teacher &lt;b&gt;</td>"), "table cells are escaped");
        assertTrue(!html.contains("src=\"http") && !html.contains("href=\"http"), "nothing from the network");

        Matcher data = Pattern.compile("<script type=\"application/json\" id=\"distill-report-data\">(.*?)</script>",
                Pattern.DOTALL).matcher(html);
        assertTrue(data.find());
        assertTrue(!data.group(1).contains("<"), "the data cannot close its element");
        JsonObject curves = JsonParser.parseString(data.group(1)).getAsJsonObject();
        assertTrue(curves.getAsJsonArray("series").size() >= 8);
        assertEquals(2, curves.getAsJsonArray("markers").size());

        // every inline script and style is allowed by its hash, nothing else
        Matcher csp = Pattern.compile("Content-Security-Policy\" content=\"([^\"]+)\"").matcher(html);
        assertTrue(csp.find());
        String policy = csp.group(1);
        assertTrue(policy.startsWith("default-src 'none'"));
        assertTrue(!policy.contains("unsafe-inline"));
        Matcher scripts = Pattern.compile("<script>(.*?)</script>", Pattern.DOTALL).matcher(html);
        int n = 0;
        while (scripts.find()) {
            assertTrue(policy.contains("'sha256-" + RunReport.sha256(scripts.group(1)) + "'"));
            n++;
        }
        assertEquals(2, n, "uPlot and the charts");
        Matcher styles = Pattern.compile("<style>(.*?)</style>", Pattern.DOTALL).matcher(html);
        while (styles.find()) {
            assertTrue(policy.contains("'sha256-" + RunReport.sha256(styles.group(1)) + "'"));
        }
        assertTrue(html.contains("uPlot"), "uPlot is inlined from its WebJar");
    }
}
