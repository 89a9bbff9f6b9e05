package org.distillery.data.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.data.synthetic.ArithmeticTrace.Op;

class ReasoningSuiteTest {

    private static final Pattern PROBLEM = Pattern.compile("(\\d+) ([-+*]) (\\d+)");
    private static final Pattern RESPONSE = Pattern.compile("<think>(.*)</think><answer>(\\d+)</answer>");

    @Test
    void tracesFollowTheSchoolbookStepsWrittenByHand() {
        assertEquals("7+5=12 2;4+8+1=13 32;3+0+1=4 432", ArithmeticTrace.steps(Op.ADD, 347, 85));
        assertEquals("9+3=12 2;9+0+1=10 02;c 102", ArithmeticTrace.steps(Op.ADD, 99, 3));
        assertEquals("12-5=7 7;13-8-1=4 47;4-0-1=3 347", ArithmeticTrace.steps(Op.SUB, 432, 85));
        assertEquals("2-0=2 2;3-3=0 02;4-4=0 002", ArithmeticTrace.steps(Op.SUB, 432, 430));
        assertEquals("7*6=42 2;4*6+4=28 82;3*6+2=20 082;c 2082", ArithmeticTrace.steps(Op.MUL, 347, 6));
        assertEquals("<think>0+0=0 0</think><answer>0</answer>", ArithmeticTrace.response(Op.ADD, 0, 0));
        assertEquals("<answer>2</answer>", ArithmeticTrace.answerOnly(ArithmeticTrace.result(Op.SUB, 432, 430)));
        assertThrows(IllegalArgumentException.class, () -> ArithmeticTrace.steps(Op.SUB, 3, 4));
        assertThrows(IllegalArgumentException.class, () -> ArithmeticTrace.steps(Op.MUL, 3, 14));
    }

    @Test
    void everyTraceEndsWithItsAnswerAndTheAnswerIsRight() {
        ReasoningSuite.Result r = ReasoningSuite.generate(ReasoningSettings.defaults().withSizes(300, 30, 30, 30));
        for (List<Example> split : List.of(r.train(), r.validation(), r.test())) {
            for (Example e : split) {
                Matcher p = PROBLEM.matcher(e.prompt());
                assertTrue(p.find(), e.prompt());
                long a = Long.parseLong(p.group(1));
                long b = Long.parseLong(p.group(3));
                long expected = switch (p.group(2)) {
                    case "+" -> a + b;
                    case "-" -> a - b;
                    default -> a * b;
                };
                Matcher m = RESPONSE.matcher(e.response());
                assertTrue(m.matches(), e.response());
                assertEquals(Long.toString(expected), m.group(2), e.toString());
                assertEquals(m.group(2), e.meta().get("answer"));
                String steps = m.group(1);
                String lastDigits = steps.substring(steps.lastIndexOf(' ') + 1);
                assertEquals(expected, Long.parseLong(lastDigits), "the last running digits are the answer: " + steps);
            }
        }
    }

    @Test
    void splitsHaveTheirSizesDigitsAndNoSharedProblem() {
        ReasoningSettings s = ReasoningSettings.defaults().withSizes(600, 60, 60, 45);
        ReasoningSuite.Result r = ReasoningSuite.generate(s);
        assertEquals(600, r.train().size());
        assertEquals(600, r.trainAnswers().size());
        assertEquals(60, r.validation().size());
        assertEquals(105, r.test().size());
        Set<String> problems = new HashSet<>();
        int ood = 0;
        for (List<Example> split : List.of(r.train(), r.validation(), r.test())) {
            for (Example e : split) {
                Matcher p = PROBLEM.matcher(e.prompt());
                assertTrue(p.find());
                assertTrue(problems.add(p.group(1) + p.group(2) + p.group(3)), "problem repeated: " + e.prompt());
                int digits = Integer.parseInt(e.meta().get("digits"));
                if (e.meta().get("task").equals(ReasoningSuite.TASK_OOD)) {
                    ood++;
                    assertEquals(4, p.group(1).length(), "out-of-domain problems have a 4-digit operand: " + e.prompt());
                    assertEquals(4, digits);
                } else {
                    assertEquals(ReasoningSuite.TASK, e.meta().get("task"));
                    assertTrue(digits <= 3 && p.group(1).length() <= 3 && p.group(3).length() <= 3, e.prompt());
                }
            }
        }
        assertEquals(45, ood);
        for (int i = 0; i < r.train().size(); i++) {
            Example t = r.train().get(i);
            Example a = r.trainAnswers().get(i);
            assertEquals(t.prompt(), a.prompt());
            assertEquals("<answer>" + t.meta().get("answer") + "</answer>", a.response());
        }
        long mul = r.train().stream().filter(e -> e.meta().get("op").equals("mul")).count();
        assertEquals(200, mul, "an even share per operation");
    }

    @Test
    void theSameSettingsWriteTheSameBytes(@TempDir Path dir) throws Exception {
        ReasoningSettings s = ReasoningSettings.defaults().withSizes(90, 9, 9, 9);
        ReasoningSuite.generate(s).write(dir.resolve("a"));
        ReasoningSuite.generate(s).write(dir.resolve("b"));
        for (String f : List.of("train.jsonl", "train-answers.jsonl", "validation.jsonl", "test.jsonl", "suite.json")) {
            assertArrayEquals(Files.readAllBytes(dir.resolve("a").resolve(f)), Files.readAllBytes(dir.resolve("b")
                    .resolve(f)), f);
        }
        List<Example> back = new JsonlDataService().readJsonl(dir.resolve("a/test.jsonl"));
        assertEquals(ReasoningSuite.generate(s).test(), back, "the files read back as generated");
        ReasoningSuite.generate(s.withSeed(99)).write(dir.resolve("c"));
        assertFalse(Files.readString(dir.resolve("a/train.jsonl")).equals(Files.readString(dir.resolve("c/train.jsonl"))));
    }

    @Test
    void badSettingsNameTheSetting() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ReasoningSettings.defaults().withDigits(3, 3));
        assertTrue(e.getMessage().contains("ood-digits"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReasoningSettings.defaults().withSizes(1, 30, 30, 30));
        assertTrue(e.getMessage().contains("train"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ReasoningSuite.generate(ReasoningSettings.defaults().withDigits(2, 3).withSizes(6000, 3, 3, 3)));
        assertTrue(e.getMessage().contains("distinct"), e.getMessage());
    }
}
