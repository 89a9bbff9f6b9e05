package org.distillery.models.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;

/** Runs {@link RolloutBench} on tiny models and checks the report parses; no timing is asserted. */
class RolloutBenchTest {

    private static final Pattern ROW = Pattern.compile(
            "^\\s*(\\d+)\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)x\\s+([0-9.]+)x\\s*$",
            Pattern.MULTILINE);

    private static final Pattern GROUP_ROW = Pattern.compile(
            "^\\s*(\\d+)\\s+(\\d+)\\s+(\\d+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)\\s+([0-9.]+)x\\s*$",
            Pattern.MULTILINE);

    private static GenerateBench.Options tiny() {
        return GenerateBench.Options.defaults().withModel(32, 2, 4, 48, 64).withLengths(4, 12).withBatches(2);
    }

    @Test
    void tinyModelsReportParses() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        RolloutBench.Result r;
        try (TestTensors tensors = new TestTensors();
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            r = RolloutBench.run(out, tensors, RolloutBench.Options.defaults().withStudent(tiny()));
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        assertEquals(r.studentParameters(), r.teacherParameters(), "same-size teacher by default");
        Matcher m = ROW.matcher(text);
        int rows = 0;
        while (m.find()) {
            rows++;
            for (int g = 3; g <= 7; g++) {
                assertTrue(Double.parseDouble(m.group(g)) > 0, m.group());
            }
        }
        assertEquals(2, rows, text);
        assertEquals(List.of(4, 12), r.rows().stream().map(RolloutBench.Row::newTokens).toList());
        Matcher group = GROUP_ROW.matcher(text);
        int groupRows = 0;
        while (group.find()) {
            groupRows++;
            assertEquals(4, Integer.parseInt(group.group(2)), "G = 4 by default");
            for (int g = 4; g <= 7; g++) {
                assertTrue(Double.parseDouble(group.group(g)) > 0, group.group());
            }
        }
        assertEquals(2, groupRows, text);
        assertEquals(List.of(4, 12), r.groupRows().stream().map(RolloutBench.GroupRow::newTokens).toList());
        assertTrue(text.contains("GRPO rollouts"), text);
        assertTrue(text.contains("goal (teacher-mixed hook costs at most 2x"), text);
        assertTrue(text.contains("threads: "), text);
    }

    @Test
    void largerTeacherHasNoGoalLine() {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        RolloutBench.Result r;
        try (TestTensors tensors = new TestTensors();
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            r = RolloutBench.run(out, tensors, RolloutBench.Options.defaults().withStudent(tiny().withLengths(3))
                    .withTeacher(64, 3).withGroup(0));
        }
        assertTrue(r.teacherParameters() > r.studentParameters());
        assertTrue(r.groupRows().isEmpty(), "group 0 skips the GRPO case");
        assertTrue(!buf.toString(StandardCharsets.UTF_8).contains("goal"));
    }

    @Test
    void rejectsBadOptions() {
        try (TestTensors tensors = new TestTensors()) {
            PrintStream sink = new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8);
            assertThrows(IllegalArgumentException.class, () -> RolloutBench.run(sink, tensors,
                    RolloutBench.Options.defaults().withStudent(tiny()).withAlpha(1.5f)));
            assertThrows(IllegalArgumentException.class, () -> RolloutBench.run(sink, tensors,
                    RolloutBench.Options.defaults().withStudent(tiny()).withTeacher(30, 1)));
            assertThrows(IllegalArgumentException.class, () -> RolloutBench.run(sink, tensors,
                    RolloutBench.Options.defaults().withStudent(tiny()).withGroup(-1)));
        }
    }
}
