package org.distillery.models.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** Runs {@link GenerateBench} on a tiny model and checks the report parses; no timing is asserted. */
class GenerateBenchTest {

    private static final Pattern ROW = Pattern.compile(
            "^\\s*(\\d+)\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)x\\s+(yes|NO)\\s*$", Pattern.MULTILINE);
    private static final Pattern PARAMS = Pattern.compile("untied head: ([0-9,]+) parameters");

    @Test
    void tinyModelReportParses() {
        GenerateBench.Options o = GenerateBench.Options.defaults().withModel(32, 2, 4, 48, 64)
                .withLengths(4, 12).withBatches(1, 2);
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        GenerateBench.Result r;
        try (TestTensors tensors = new TestTensors();
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            r = GenerateBench.run(out, tensors, o);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        // embed + head 2*64*32, per layer 4*32*32 + 3*32*48 + 2*32, final norm 32
        long expected = 2L * 64 * 32 + 2L * (4 * 32 * 32 + 3 * 32 * 48 + 2 * 32) + 32;
        assertEquals(expected, r.parameters());
        Matcher pm = PARAMS.matcher(text);
        assertTrue(pm.find(), text);
        assertEquals(expected, Long.parseLong(pm.group(1).replace(",", "")));
        assertTrue(text.contains("threads: "), text);

        List<long[]> seen = new ArrayList<>();
        Matcher m = ROW.matcher(text);
        while (m.find()) {
            double plain = Double.parseDouble(m.group(3));
            double cached = Double.parseDouble(m.group(4));
            double speedUp = Double.parseDouble(m.group(5));
            assertTrue(plain > 0 && cached > 0 && speedUp > 0, m.group());
            assertEquals("yes", m.group(6), "greedy with and without the cache must agree: " + m.group());
            seen.add(new long[] {Long.parseLong(m.group(1)), Long.parseLong(m.group(2))});
        }
        assertEquals(4, seen.size(), text);
        assertEquals(List.of("1x4", "1x12", "2x4", "2x12"),
                seen.stream().map(a -> a[0] + "x" + a[1]).toList());
        assertEquals(4, r.rows().size());
        assertTrue(r.rows().stream().allMatch(GenerateBench.Row::sameTokens));
        // no 512 row, so no goal line
        assertTrue(!text.contains("goal"), text);
    }

    @Test
    void rejectsBadOptions() {
        try (TestTensors tensors = new TestTensors()) {
            PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
            assertThrows(IllegalArgumentException.class, () -> GenerateBench.run(sink, tensors,
                    GenerateBench.Options.defaults().withModel(32, 1, 4, 48, 64).withLengths(0)));
            assertThrows(IllegalArgumentException.class, () -> GenerateBench.run(sink, tensors,
                    GenerateBench.Options.defaults().withModel(30, 1, 4, 48, 64).withLengths(2)));
        }
    }
}
