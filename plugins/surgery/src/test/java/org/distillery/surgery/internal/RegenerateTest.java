package org.distillery.surgery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.google.gson.Gson;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.text.TextMetrics;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code sdd.regenerate} with the embedded teacher on the first records of the suite: each check keeps the
 * teacher's answer exactly where it should, the records say where their response came from, and the
 * provenance counts add up.
 */
class RegenerateTest {

    private static final int RECORDS = 24;

    @TempDir
    static Path dir;
    private static SurgeryTestRun run;
    private static List<Example> input;
    private static List<Example> answers;

    @BeforeAll
    static void setUp() throws Exception {
        run = new SurgeryTestRun(Files.createDirectories(dir.resolve("run")), TestRunContext.experiment(
                "data.train-file = \"" + SurgeryTestRun.suite("train.jsonl") + "\""));
        input = run.data().readJsonl(SurgeryTestRun.suite("train.jsonl")).subList(0, RECORDS);
        answers = regenerate("answers", "check = none");
    }

    @AfterAll
    static void close() {
        run.close();
    }

    private static List<Example> regenerate(String name, String params) throws Exception {
        StageResult r = new RegenerateTrainer().run(run, new StageSpec(name, RegenerateTrainer.KEY,
                ConfigFactory.parseString("model-dir = \"" + SurgeryTestRun.embeddedTeacher() + "\", limit = " + RECORDS
                        + ", max-new-tokens = 96, " + params)));
        List<Example> out = run.datasets().read(StageParams.STAGE_PREFIX + name, Datasets.Split.TRAIN, "test");
        assertEquals(RECORDS, out.size());
        assertEquals((double) out.stream().filter(e -> "regenerated".equals(e.meta().get("sdd"))).count(),
                r.metrics().get("regenerated"));
        @SuppressWarnings("unchecked")
        Map<String, Object> provenance = new Gson().fromJson(Files.readString(run.runDir().resolve("stages")
                .resolve(name).resolve("provenance.json")), Map.class);
        assertEquals((double) RECORDS, provenance.get("records"));
        @SuppressWarnings("unchecked")
        Map<String, Map<String, Double>> byTask = (Map<String, Map<String, Double>>) provenance.get("by-task");
        assertEquals(RECORDS, byTask.values().stream().flatMap(m -> m.values().stream()).mapToDouble(d -> d).sum(), 0);
        for (int i = 0; i < RECORDS; i++) {
            assertEquals(input.get(i).id(), out.get(i).id());
            assertEquals(input.get(i).prompt(), out.get(i).prompt());
            assertEquals(input.get(i).meta().get("task"), out.get(i).meta().get("task"));
            if ("original".equals(out.get(i).meta().get("sdd"))) {
                assertEquals(input.get(i).response(), out.get(i).response());
            }
        }
        return out;
    }

    @Test
    void exactKeepsTheTeachersAnswerWhereItIsRight() throws Exception {
        List<Example> out = regenerate("exact", "check = exact");
        long kept = 0;
        for (int i = 0; i < RECORDS; i++) {
            if ("regenerated".equals(out.get(i).meta().get("sdd"))) {
                kept++;
                assertEquals(TextMetrics.words(input.get(i).response()), TextMetrics.words(out.get(i).response()));
            }
        }
        assertTrue(kept > 0, "the embedded teacher answers some training records right");
    }

    @Test
    void rougeLKeepsCloseAnswersAndNoneKeepsEveryAnswer() throws Exception {
        List<Example> rouge = regenerate("rouge", "check = rouge-l, min-rouge-l = 0.5");
        List<Example> all = answers;
        int differs = 0;
        for (int i = 0; i < RECORDS; i++) {
            boolean regenerated = "regenerated".equals(rouge.get(i).meta().get("sdd"));
            double f = TextMetrics.rougeL(TextMetrics.words(all.get(i).response()),
                    TextMetrics.words(input.get(i).response()));
            assertEquals(f >= 0.5 && !all.get(i).response().isBlank(), regenerated,
                    "record " + i + ": " + all.get(i).response() + " vs " + input.get(i).response());
            if (regenerated) {
                assertEquals(all.get(i).response(), rouge.get(i).response(), "the same greedy answer");
            }
            differs += all.get(i).response().equals(input.get(i).response()) ? 0 : 1;
        }
        assertTrue(differs > 0, "some answers differ from the references");
    }

    @Test
    void answersCutByTheTokenBudgetKeepTheOriginal() throws Exception {
        List<Example> cut = regenerate("cut", "check = none, max-new-tokens = 6");
        int unfinished = 0;
        for (int i = 0; i < RECORDS; i++) {
            boolean regenerated = "regenerated".equals(cut.get(i).meta().get("sdd"));
            // the byte tokenizer gives one token per character: an answer of 6 or more did not end in 6 tokens
            boolean shortAnswer = answers.get(i).response().length() < 6 && !answers.get(i).response().isBlank();
            assertEquals(shortAnswer, regenerated, "record " + i + ": " + answers.get(i).response());
            unfinished += regenerated ? 0 : 1;
        }
        assertTrue(unfinished > 0, "some answers are longer than 5 characters");
        assertTrue(Files.readString(run.runDir().resolve("stages/cut/provenance.json")).contains("original.unfinished"));
    }

    @Test
    void theJudgeKeepsAnswersItScoresAtLeastAsHigh() throws Exception {
        List<Example> judged = regenerate("judged", "check = judge");
        List<Example> all = answers;
        try (NDManager m = run.manager().newSubManager();
             LanguageModel judge = run.load(SurgeryTestRun.embeddedTeacher(), m)) {
            var tok = run.models().tokenizer(SurgeryTestRun.embeddedTeacher());
            List<Double> answerScores = RegenerateTrainer.meanLogProbs(run, judge, tok, all, 256, 8);
            List<Double> originals = RegenerateTrainer.meanLogProbs(run, judge, tok, input, 256, 8);
            for (int i = 0; i < RECORDS; i++) {
                boolean expected = !all.get(i).response().isBlank() && answerScores.get(i) >= originals.get(i);
                assertEquals(expected, "regenerated".equals(judged.get(i).meta().get("sdd")), "record " + i);
            }
        }
    }
}
