package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Each malformed experiment makes {@code distill run} exit with code 2 before any tensor work,
 * with one message naming the config path, the bad value and what is accepted.
 */
class MalformedExperimentIT {

    private static Distribution dist;

    @BeforeAll
    static void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterAll
    static void removeCopy() throws Exception {
        dist.close();
    }

    static Stream<Arguments> cases() {
        return Stream.of(
                Arguments.of("syntax", "train { steps = 5 ", "cannot parse", "syntax.conf"),
                Arguments.of("unknown top-level key", "trian { steps = 5 }", "trian: unknown key", "did you mean train?"),
                Arguments.of("unknown nested key", "train.stpes = 5", "train.stpes: unknown key", "did you mean steps?"),
                Arguments.of("wrong type (number)", "train.steps = lots", "train.steps: wrong type string", "a number"),
                Arguments.of("wrong type (object)", "train.loss = 5", "train.loss: wrong type number", "{key, params}"),
                Arguments.of("unknown loss key", "train.loss = [ { key = kd.forwrd-kl } ]",
                        "train.loss[0].key: no registered losses named 'kd.forwrd-kl'", "did you mean kd.forward-kl?"),
                Arguments.of("unknown loss parameter", "train.loss = [ { key = kd.forward-kl, params { temprature = 2 } } ]",
                        "train.loss[0].params.temprature: unknown key", "did you mean temperature?"),
                Arguments.of("wrong parameter type", "train.loss = [ { key = kd.forward-kl, params { temperature = hot } } ]",
                        "train.loss[0].params.temperature: wrong type string", "a number"),
                Arguments.of("missing data file", "data.train-file = /nonexistent/train.jsonl",
                        "data.train-file: file not found", "/nonexistent/train.jsonl"),
                Arguments.of("unknown sampler", "train.sampler.key = data.nope",
                        "train.sampler.key: no registered samplers named 'data.nope'", "data.dataset"),
                Arguments.of("unknown teacher", "teacher.key = teacher.locl",
                        "teacher.key: no registered teachers named 'teacher.locl'", "did you mean teacher.local?"),
                Arguments.of("unknown method", "method.key = minilm", "method.key: no registered methods named 'minilm'",
                        "kd"),
                Arguments.of("value out of range", "train.steps = 0", "train.steps: must be positive", "an integer >= 1"),
                Arguments.of("unknown schedule", "train.schedule = cosin", "train.schedule: unknown schedule",
                        "cosine, linear, constant"),
                Arguments.of("bad device", "experiment.device = tpu", "experiment.device", "auto, cpu, gpu, gpu:N"),
                Arguments.of("vocabulary mismatch", "student.config.vocab_size = 300",
                        "tokenizer.vocab-policy: vocabulary sizes differ: teacher has 259 ids",
                        "student 300 (student.config.vocab_size)"),
                Arguments.of("truncation the wrong way", "student.config.vocab_size = 300\ntokenizer.vocab-policy = truncate-teacher",
                        "truncate-teacher needs the larger vocabulary on the teacher", "student 300"),
                Arguments.of("unknown vocab policy", "tokenizer.vocab-policy = shrink",
                        "tokenizer.vocab-policy: unknown policy", "error, truncate-teacher"),
                Arguments.of("missing model folder", "student.model-dir = /nonexistent/model",
                        "student.model-dir: file not found", "/nonexistent/model"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void exitsTwoNamingThePath(String name, String body, String expectedPath, String expectedHint) throws Exception {
        Path conf = dist.work.resolve(name.replaceAll("[^a-z]+", "-") + ".conf");
        Files.writeString(conf, "include file(\"" + dist.home.resolve("config/experiments/smoke.conf") + "\")\n" + body
                + "\n");
        Distribution.Result r = dist.run(120, "run", conf.toString());
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains(expectedPath), r.err());
        assertTrue(r.err().contains(expectedHint), r.err());
        assertTrue(!Files.exists(dist.work.resolve("runs")) || isEmpty(dist.work.resolve("runs")),
                "no run directory for an invalid experiment");
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("commandLines")
    void badCommandLinesExitTwo(String name, String[] args, String expected) throws Exception {
        Distribution.Result r = dist.run(120, args);
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains(expected), r.err());
    }

    static Stream<Arguments> commandLines() {
        return Stream.of(
                Arguments.of("unknown experiment", new String[] {"run", "smok"}, "did you mean smoke?"),
                Arguments.of("bad --set", new String[] {"run", "smoke", "--set", "train.steps"}, "expected path=value"),
                Arguments.of("override with a wrong type", new String[] {"run", "smoke", "--set", "train.batch-size=big"},
                        "train.batch-size: wrong type"),
                Arguments.of("unknown subcommand", new String[] {"rnu", "smoke"}, "Unmatched argument"),
                Arguments.of("resume of a non-run", new String[] {"resume", "/tmp"}, "not a run directory"));
    }

    private static boolean isEmpty(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }
}
