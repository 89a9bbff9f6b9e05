package org.distillery.models.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** Runs {@link ForwardBench} on a tiny model and checks the report parses; no timing is asserted. */
class ForwardBenchTest {

    private static final Pattern TOTAL = Pattern.compile("= ([0-9.]+) GFLOP/step");
    private static final Pattern NMM = Pattern.compile("embedding lookup excluded\\) = ([0-9,]+)");
    private static final Pattern PEAK = Pattern.compile("^peak: ([0-9.]+) GFLOP/s", Pattern.MULTILINE);
    private static final Pattern ACHIEVED = Pattern.compile(
            "^achieved \\(median step ([0-9.]+) s\\): ([0-9.]+) GFLOP/s = ([0-9.]+)% of peak$", Pattern.MULTILINE);
    private static final Pattern STEP = Pattern.compile(
            "^  step (\\d+):\\s+([0-9.]+) s\\s+([0-9.]+) GFLOP/s; square matmul right after:\\s+([0-9.]+) GFLOP/s "
                    + "\\(step =\\s+([0-9.]+)% of it\\)$", Pattern.MULTILINE);
    private static final Pattern PAIRED = Pattern.compile(
            "^paired \\(median over steps of step / square matmul right after it\\): ([0-9.]+)%$", Pattern.MULTILINE);
    private static final Pattern GEMM = Pattern.compile(
            "^  .{18} \\[\\d+ x \\d+\\] x \\[\\d+ x \\d+\\]:\\s+([0-9.]+) /\\s+([0-9.]+) GFLOP/s$", Pattern.MULTILINE);

    @Test
    void tinyModelReportParses() {
        int d = 32;
        int layers = 2;
        int ff = 48;
        int vocab = 64;
        int b = 2;
        int s = 16;
        ForwardBench.Options o = ForwardBench.Options.defaults().withShape(b, s).withModel(d, layers, 4, ff, vocab)
                .withSteps(1, 2).withMatmul(64, 2);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ForwardBench.Result r;
        try (TestTensors tensors = new TestTensors();
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            r = ForwardBench.run(out, tensors, o);
        }
        String text = buf.toString(StandardCharsets.UTF_8);

        long nmm = (long) layers * (4L * d * d + 3L * d * ff) + (long) vocab * d;
        assertEquals(nmm, r.matmulParameters());
        double flops = 6.0 * nmm * b * s + 12.0 * layers * b * s * s * d;
        assertEquals(flops, r.flopsPerStep(), 1e-6 * flops);

        Matcher m = NMM.matcher(text);
        assertTrue(m.find(), text);
        assertEquals(nmm, Long.parseLong(m.group(1).replace(",", "")));
        m = TOTAL.matcher(text);
        assertTrue(m.find(), text);
        assertEquals(flops / 1e9, Double.parseDouble(m.group(1)), 1e-3);
        m = PEAK.matcher(text);
        assertTrue(m.find(), text);
        assertTrue(Double.parseDouble(m.group(1)) >= 0, text);
        m = ACHIEVED.matcher(text);
        assertTrue(m.find(), text);
        assertTrue(Double.parseDouble(m.group(3)) >= 0, text);
        m = GEMM.matcher(text);
        int gemms = 0;
        while (m.find()) {
            gemms++;
        }
        assertEquals(3, gemms, text);
        m = STEP.matcher(text);
        int steps = 0;
        while (m.find()) {
            steps++;
            assertEquals(steps, Integer.parseInt(m.group(1)));
            assertTrue(Double.parseDouble(m.group(2)) > 0, m.group());
        }
        assertEquals(2, steps, text);
        m = PAIRED.matcher(text);
        assertTrue(m.find(), text);
        assertTrue(Double.parseDouble(m.group(1)) > 0, text);
        assertEquals(2, r.stepSeconds().length);
        assertEquals(2, r.adjacentFlopsPerSecond().length);
        assertTrue(text.contains("threads: "), text);
        assertTrue(text.contains("goal (>= 50% of the matmul peak, median step): "), text);
    }

    @Test
    void tinyVisionLanguageModelReportParses() {
        int d = 32;
        int layers = 2;
        int ff = 48;
        int vocab = 64;
        int b = 2;
        int s = 24;
        ForwardBench.Options o = ForwardBench.Options.defaults().withShape(b, s).withModel(d, layers, 4, ff, vocab)
                .withSteps(1, 2).withMatmul(64, 2);
        ForwardBench.Vision v = new ForwardBench.Vision(16, 4, 16, 2, 2, 24);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        ForwardBench.Result r;
        try (TestTensors tensors = new TestTensors();
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            r = ForwardBench.runVlm(out, tensors, o, v);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        int p = 16;
        long llm = (long) layers * (4L * d * d + 3L * d * ff) + (long) vocab * d;
        long proj = 16L * d + (long) d * d;
        long tower = 16L * 3 * 4 * 4 + 2L * (4L * 16 * 16 + 2L * 16 * 24);
        double flops = 6.0 * llm * b * s + 12.0 * layers * b * s * s * d + 6.0 * proj * b * p
                + 2.0 * tower * b * p + 4.0 * 2 * b * p * p * 16;
        assertEquals(llm + proj + tower, r.matmulParameters(), text);
        assertEquals(flops, r.flopsPerStep(), 1e-6 * flops);
        Matcher m = TOTAL.matcher(text);
        assertTrue(m.find(), text);
        assertEquals(flops / 1e9, Double.parseDouble(m.group(1)), 1e-3);
        m = GEMM.matcher(text);
        int gemms = 0;
        while (m.find()) {
            gemms++;
        }
        assertEquals(4, gemms, text);
        assertTrue(ACHIEVED.matcher(text).find(), text);
        assertEquals(2, r.stepSeconds().length);
    }
}
