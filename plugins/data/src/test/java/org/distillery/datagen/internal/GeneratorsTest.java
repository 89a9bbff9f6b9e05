package org.distillery.datagen.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.api.train.TrainerFactory;
import org.distillery.kit.config.Params;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The generators against a real {@code OpenAiServer} serving a tiny random GPT-2 in-process. */
class GeneratorsTest {

    private static Path dir;
    private static TestRun run;
    private static String url;
    private static Path seeds;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("data-gen-test");
        run = new TestRun(dir, "experiment.seed = 11\nteacher { key = \"\" }\nstudent.model-dir = \""
                + dir.resolve("student") + "\"\ntokenizer.dir = \"" + dir.resolve("student") + "\"");
        url = run.serve(5);
        seeds = dir.resolve("seeds.jsonl");
        run.data().writeJsonl(seeds, List.of(
                Example.pair("s1", "how old is faran?", "32", Map.of()),
                Example.pair("s2", "sort the letters of takafol.", "aafklot", Map.of()),
                Example.pair("s3", "what is 12 + 7?", "19", Map.of()),
                Example.pair("s4", "tell me about the city of pugalin.", "a city in the hills", Map.of())));
    }

    @AfterAll
    static void stop() {
        run.close();
    }

    private static String endpoint() {
        return "endpoint { base-url = \"" + url + "\", model = tiny, api = completion, concurrency = 3, max-retries = 1 }\n";
    }

    private static Generated.Output produce(String key, String params, String work) throws Exception {
        Config p = ConfigFactory.parseString(endpoint() + params)
                .withFallback(run.defaults(ContributionKind.DATA_GENERATOR, key));
        return DataModule.generators().get(key).create(Params.of(p, "params")).produce(run.generatorContext(dir.resolve(work), "params"));
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> step(Generated.Output out, String name) {
        return (Map<String, Object>) ((Map<String, Object>) out.provenance().toMap(out.examples().size()).get("steps"))
                .get(name);
    }

    @SuppressWarnings("unchecked")
    private static long dropped(Map<String, Object> step, String reason) {
        return ((Map<String, Long>) step.get("dropped")).getOrDefault(reason, 0L);
    }

    @SuppressWarnings("unchecked")
    private static void assertConsistent(Map<String, Object> step) {
        long sum = ((Map<String, Long>) step.get("dropped")).values().stream().mapToLong(Long::longValue).sum();
        assertEquals((long) step.get("in"), (long) step.get("kept") + sum, "in = kept + dropped: " + step);
    }

    /** Loose filters: a random model writes bytes, not English. */
    private static final String LOOSE = "filters { min-words = 1, blocked-keywords = [], reject-leading-punctuation = false,"
            + " reject-non-ascii-start = false }\n";

    @Test
    void identicalRequestsAreDedupedByRougeL() throws Exception {
        // one seed in context and greedy decoding: every instruction request is the same, so every
        // reply is the same; the first is kept and the rest are ROUGE-L duplicates of it
        Path one = dir.resolve("one-seed.jsonl");
        run.data().writeJsonl(one, List.of(Example.pair("s", "how old is faran?", "32", Map.of())));
        Generated.Output out = produce(TargetedGenerator.KEY, LOOSE + "seed-file = \"" + one + "\"\n"
                + "instructions = 6, max-requests = 6, in-context-seeds = 1, in-context-generated = 0,"
                + " temperature = 0, max-instruction-tokens = 12, max-response-tokens = 8", "dedup");
        Map<String, Object> s = step(out, "instructions");
        assertConsistent(s);
        assertEquals(6L, s.get("in"));
        assertEquals(1L, s.get("kept"), s.toString());
        assertEquals(5L, dropped(s, "similar"), s.toString());
        Map<String, Object> r = step(out, "responses");
        assertConsistent(r);
        assertEquals(out.examples().size(), (long) r.get("kept"));
    }

    @Test
    void keptInstructionsAreMutuallyDissimilarAndCountsAddUp() throws Exception {
        Generated.Output out = produce(TargetedGenerator.KEY, LOOSE + "seed-file = \"" + seeds + "\"\n"
                + "instructions = 5, max-requests = 12, in-context-seeds = 2, in-context-generated = 1,"
                + " temperature = 1.0, top-p = 1.0, max-instruction-tokens = 16, max-response-tokens = 8,"
                + " include-seeds = true, reasoning = also", "pool");
        Map<String, Object> s = step(out, "instructions");
        assertConsistent(s);
        assertTrue((long) s.get("kept") == 5 ? (long) s.get("in") <= 12 : (long) s.get("in") == 12,
                "stops at the target or after max-requests: " + s);
        List<String> prompts = new ArrayList<>(List.of("how old is faran?", "sort the letters of takafol.",
                "what is 12 + 7?", "tell me about the city of pugalin."));
        List<String> generated = out.examples().stream().filter(e -> e.meta().get("source").equals("generated"))
                .map(Example::prompt).distinct().toList();
        assertTrue(generated.size() <= (long) s.get("kept"));
        for (String g : generated) {
            for (String p : prompts) {
                assertTrue(RougeL.f1(g, p) < 0.7 && !g.equalsIgnoreCase(p), g + " vs " + p);
            }
            prompts.add(g);
        }
        Map<String, Object> r = step(out, "responses");
        assertConsistent(r);
        // every task (4 seeds + kept instructions) was asked twice: directly and step by step
        assertEquals(2 * (4 + (long) s.get("kept")), (long) r.get("in"));
        assertEquals(out.examples().size(), (long) r.get("kept"));
        assertTrue(out.examples().stream().anyMatch(e -> e.meta().get("variant").equals("reasoning")));
        assertTrue(out.examples().stream().anyMatch(e -> e.meta().get("variant").equals("direct")));
    }

    @Test
    void lengthFilterDropsAndCountsEverything() throws Exception {
        Generated.Output out = produce(TargetedGenerator.KEY, "filters { min-words = 500, max-words = 600 }\n"
                + "seed-file = \"" + seeds + "\", instructions = 3, max-requests = 4, in-context-seeds = 2,"
                + " temperature = 1.0, max-instruction-tokens = 12, include-seeds = true, max-response-tokens = 4", "len");
        Map<String, Object> s = step(out, "instructions");
        assertConsistent(s);
        assertEquals(4L, s.get("in"));
        assertEquals(0L, s.get("kept"));
        assertEquals(4L, dropped(s, "too-short") + dropped(s, "empty"), s.toString());
        assertEquals(4L, step(out, "responses").get("in"), "the seeds are still answered");
        Map<String, Object> prov = out.provenance().toMap(out.examples().size());
        assertNotNull(prov.get("endpoint"));
        assertEquals(500, ((Map<?, ?>) prov.get("filters")).get("min-words"));
    }

    @Test
    void topicDialoguesAlternateRoles() throws Exception {
        Generated.Output out = produce(TopicsGenerator.KEY, "topics = [\"the moon\", \"bread\"], questions-per-topic = 2,"
                + " min-turns = 2, max-turns = 3, temperature = 1.0, max-question-tokens = 40, max-turn-tokens = 12,"
                + " filters { min-question-words = 1 }", "topics");
        Map<String, Object> d = step(out, "dialogues");
        assertConsistent(d);
        assertConsistent(step(out, "questions"));
        assertEquals(step(out, "questions").get("kept"), d.get("in"));
        assertFalse(out.examples().isEmpty(), d.toString());
        for (Example e : out.examples()) {
            List<Example.Message> m = e.messages();
            assertTrue(m.size() >= 4 && m.size() <= 6 && m.size() % 2 == 0, "2-3 exchanges: " + m.size());
            for (int i = 0; i < m.size(); i++) {
                assertEquals(i % 2 == 0 ? "user" : "assistant", m.get(i).role());
                assertFalse(m.get(i).content().isBlank());
            }
        }
    }

    @Test
    void qualityFilterKeepsScoresAtOrAboveTheThreshold() throws Exception {
        Path data = dir.resolve("to-score.jsonl");
        List<Example> recs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            recs.add(Example.pair("r" + i, "what is " + i + " + " + i + "?", i % 2 == 0 ? Integer.toString(2 * i)
                    : "zq" + "xv".repeat(i), Map.of()));
        }
        run.data().writeJsonl(data, recs);
        Generated.Output all = produce(QualityFilterGenerator.KEY, "input = \"" + data + "\", scorer = logprob,"
                + " min-score = -1e9", "q-all");
        assertEquals(8, all.examples().size());
        double[] scores = all.examples().stream().mapToDouble(e -> Double.parseDouble(e.meta().get("quality")))
                .sorted().toArray();
        double threshold = scores[4];
        Generated.Output kept = produce(QualityFilterGenerator.KEY, "input = \"" + data + "\", scorer = logprob,"
                + " min-score = " + threshold, "q-half");
        Map<String, Object> s = step(kept, "quality");
        assertConsistent(s);
        assertEquals(4, kept.examples().size());
        assertEquals(4L, dropped(s, "below-threshold"));
        kept.examples().forEach(e -> assertTrue(Double.parseDouble(e.meta().get("quality")) >= threshold - 1e-4));
        // the judge path: a random model's replies rarely hold a score; whatever it says is counted
        Generated.Output judged = produce(QualityFilterGenerator.KEY, "input = \"" + data + "\", scorer = judge,"
                + " max-judge-tokens = 4", "q-judge");
        Map<String, Object> j = step(judged, "quality");
        assertConsistent(j);
        assertEquals(8L, j.get("in"));
    }

    @Test
    void judgeRepliesAreParsedRobustly() {
        assertEquals(8.0, QualityFilterGenerator.parseScore("8").getAsDouble());
        assertEquals(7.5, QualityFilterGenerator.parseScore("Score: 7.5").getAsDouble());
        assertEquals(9.0, QualityFilterGenerator.parseScore("I'd rate it 9/10 because of 3 reasons").getAsDouble());
        assertEquals(6.0, QualityFilterGenerator.parseScore("**6**").getAsDouble());
        assertEquals(4.0, QualityFilterGenerator.parseScore("Among 100 answers, rating: 4").getAsDouble());
        assertTrue(QualityFilterGenerator.parseScore("excellent!").isEmpty());
        assertTrue(QualityFilterGenerator.parseScore("42").isEmpty());
    }

    @Test
    void coresetWithALocalModelPicksDistinctRecordsAndAFullBudgetKeepsAll() throws Exception {
        Path model = dir.resolve("coreset-model");
        run.writeTinyModel(model, 3);
        Path data = dir.resolve("dups.jsonl");
        List<Example> recs = new ArrayList<>();
        String[][] distinct = {{"how old is faran?", "32"}, {"sort abc backwards", "cba"}, {"what is 1 + 1?", "2"}};
        for (int copy = 0; copy < 3; copy++) {
            for (int d = 0; d < 3; d++) {
                recs.add(Example.pair("r" + copy + d, distinct[d][0], distinct[d][1], Map.of()));
            }
        }
        run.data().writeJsonl(data, recs);
        for (String method : List.of("gradient", "mmd")) {
            Config p = ConfigFactory.parseString("input = \"" + data + "\", model-dir = \"" + model + "\", size = 3,"
                    + " fraction = 0, method = " + method + ", gradient = lm-head, batch-size = 4")
                    .withFallback(run.defaults(ContributionKind.DATA_GENERATOR, CoresetGenerator.KEY));
            Generated.Output out = DataModule.generators().get(CoresetGenerator.KEY).create(Params.of(p, "params"))
                    .produce(run.generatorContext(dir.resolve("coreset"), "params"));
            assertEquals(3, out.examples().size(), method);
            assertEquals(3, out.examples().stream().map(Example::prompt).distinct().count(), method + " picks distinct");
            Map<String, Object> s = step(out, "selection");
            assertConsistent(s);
            assertEquals(6L, dropped(s, "not-selected"));
        }
        Config full = ConfigFactory.parseString("input = \"" + data + "\", model-dir = \"" + model + "\", size = 50,"
                + " fraction = 0").withFallback(run.defaults(ContributionKind.DATA_GENERATOR, CoresetGenerator.KEY));
        Generated.Output out = DataModule.generators().get(CoresetGenerator.KEY).create(Params.of(full, "params"))
                .produce(run.generatorContext(dir.resolve("coreset"), "params"));
        assertEquals(recs, out.examples().stream().map(e -> Example.pair(e.id(), e.prompt(), e.response(), Map.of()))
                .toList());
    }

    @Test
    void generateStageWritesDataAndProvenanceThatTrainKdConsumes() throws Exception {
        var trainer = run.registry().find(ContributionKind.TRAINER, GenerateTrainer.KEY, TrainerFactory.class)
                .orElseThrow().factory().create();
        Config params = ConfigFactory.parseString("config-path = \"method.params.datasets[0].generator\"\n"
                + "generator { key = data.targeted, params { " + endpoint() + LOOSE + " seed-file = \"" + seeds + "\","
                + " instructions = 2, max-requests = 3, include-seeds = true, max-instruction-tokens = 12,"
                + " max-response-tokens = 6, temperature = 1.0 } }");
        StageResult r = trainer.run(run, new StageSpec("targeted", GenerateTrainer.KEY, params));
        Path stage = dir.resolve("stages/targeted");
        List<Example> written = run.data().readJsonl(stage.resolve("data.jsonl"));
        JsonObject prov = JsonParser.parseString(Files.readString(stage.resolve("provenance.json"))).getAsJsonObject();
        assertEquals(written.size(), prov.get("records").getAsInt());
        assertEquals((double) written.size(), r.metrics().get("records"));
        assertEquals(prov.getAsJsonObject("steps").getAsJsonObject("responses").get("kept").getAsInt(), written.size());
        assertEquals(url, prov.getAsJsonObject("endpoint").get("base-url").getAsString());
        assertTrue(prov.get("seed").getAsLong() == 11, "the run seed");
        assertTrue(Files.isDirectory(stage.resolve("http-cache")), "responses cached in the stage folder");
        try (var files = Files.list(stage)) {
            assertTrue(files.noneMatch(f -> f.getFileName().toString().endsWith(".tmp")));
        }
        // a second run of the same stage is answered from the cache and writes the same data
        StageResult again = trainer.run(run, new StageSpec("targeted", GenerateTrainer.KEY, params));
        assertEquals(r.metrics(), again.metrics());
        assertEquals(written, run.data().readJsonl(stage.resolve("data.jsonl")));

        // train.kd reads it with file = "stage:targeted"
        Path student = dir.resolve("student");
        run.writeTinyModel(student, 9);
        KdStage stage2 = KdStage.named("student")
                .withLoss(List.of(LossSpec.of("kd.sft")))
                .withSampler(new ContributionRef("data.dataset", ConfigFactory.parseString("file = \"stage:targeted\"")))
                .withTrain(ConfigFactory.parseString("steps = 2, batch-size = 2, max-length = 64, warmup-steps = 0"));
        run.registerModules(new org.distillery.kdcore.internal.KdCoreModule());
        var kd = run.registry().find(ContributionKind.TRAINER, "train.kd", TrainerFactory.class).orElseThrow();
        StageResult t = kd.factory().create().run(run, stage2);
        assertEquals(2, t.stepsDone());
        KdStage missing = new KdStage("student2", stage2.loss(), new ContributionRef("data.dataset",
                ConfigFactory.parseString("file = \"stage:nothing\"")), null, stage2.train(), null, null, "");
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> kd.factory().create().run(run,
                missing));
        assertEquals("train.sampler.params.file", e.path());
    }
}
