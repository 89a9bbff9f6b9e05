package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.reward.Reward;
import org.distillery.api.reward.RewardContext;
import org.distillery.api.reward.RewardFactory;
import org.distillery.api.reward.RewardValue;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageResult;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.data.Records;
import org.distillery.train.KdTrainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The data stages on tiny models: rejection sampling's bookkeeping ({@code rl.traces}, with a verifier
 * that accepts each prompt at a known try), the AI-feedback pairs ({@code dpo.aif}: chosen = best,
 * rejected = a random other, ties dropped), and dDPO on those pairs ({@code dpo.pairs} +
 * {@code dpo.sigmoid}: the reference's log-probabilities are the starting student's, and training widens
 * the chosen-over-rejected margin).
 */
class DataStagesTest {

    /** Correct exactly at the try given by the record's {@code meta.accept-at} (counting calls per record). */
    static final String ACCEPT_AT = "test.accept-at";
    /** Scores a response by the sum of its token ids modulo 101 (no verdict): ties are rare. */
    static final String ID_SUM = "test.id-sum";

    private static TestRun run(Path dir, String extra) throws Exception {
        Path data = Files.createDirectories(dir.resolve("data"));
        StringBuilder train = new StringBuilder();
        int[] acceptAt = {1, 3, 9, 2};
        for (int i = 0; i < acceptAt.length; i++) {
            train.append("{\"id\": \"p").append(i).append("\", \"prompt\": \"").append(i).append(" + 2 = ?\", ")
                    .append("\"response\": \"<answer>").append(i + 2).append("</answer>\", \"meta\": {\"answer\": \"")
                    .append(i + 2).append("\", \"accept-at\": \"").append(acceptAt[i]).append("\"}}\n");
        }
        Files.writeString(data.resolve("train.jsonl"), train);
        Path teacher = dir.resolve("teacher");
        Config experiment = TestRun.experiment("""
                experiment.seed = 3
                data.train-file = "%s"
                tokenizer.dir = "%s"
                teacher { key = teacher.local, params { model-dir = "%s" } }
                student { inherit-teacher-config = true }
                train { batch-size = 4, max-length = 32, lr = 1e-2, schedule = constant }
                %s
                """.formatted(data.resolve("train.jsonl"), teacher, teacher, extra));
        TestRun run = new TestRun(Files.createDirectories(dir.resolve("run")), experiment);
        Map<String, Integer> calls = new HashMap<>();
        run.register(ContributionKind.REWARD, ACCEPT_AT, new RewardFactory() {
            @Override
            public String description() {
                return "accepts at a given try";
            }

            @Override
            public Reward create(RewardContext context, Config params) {
                return (completions, manager) -> completions.stream().map(c -> {
                    int call = calls.merge(c.example().id(), 1, Integer::sum);
                    boolean ok = call == Integer.parseInt(c.example().meta().get("accept-at"));
                    return RewardValue.checked(ok ? 1 : 0, ok);
                }).toList();
            }
        }, ConfigFactory.empty());
        run.register(ContributionKind.REWARD, ID_SUM, new RewardFactory() {
            @Override
            public String description() {
                return "token id sum";
            }

            @Override
            public Reward create(RewardContext context, Config params) {
                return (completions, manager) -> completions.stream()
                        .map(c -> RewardValue.of(java.util.Arrays.stream(c.responseIds()).sum() % 101)).toList();
            }
        }, ConfigFactory.empty());
        run.writeTinyModel(teacher, 5);
        return run;
    }

    private static JsonObject provenance(TestRun run, String stage) throws Exception {
        return JsonParser.parseString(Files.readString(run.runDir().resolve("stages").resolve(stage)
                .resolve(StageSupport.PROVENANCE))).getAsJsonObject();
    }

    @Test
    void rejectionSamplingKeepsTheFirstCorrectTryAndCountsEveryTry(@TempDir Path dir) throws Exception {
        try (TestRun run = run(dir, "")) {
            StageResult r = new TracesTrainer().run(run, new StageSpec("traces", TracesTrainer.KEY,
                    ConfigFactory.parseString("tries = 4, max-new-tokens = 6, verifiers = [ { key = test.accept-at } ]")));
            // prompts accepted at tries 1, 3, never (9 > 4), 2
            assertEquals(3.0, r.metrics().get("records"));
            assertEquals(3.0, r.metrics().get("prompts-kept"));
            assertEquals(3.0 / (4 + 3 + 2 + 1), r.metrics().get("acceptance"), 1e-12);
            List<Example> kept = run.data().readJsonl(run.runDir().resolve("stages/traces/data.jsonl"));
            Map<String, String> tryOf = new HashMap<>();
            kept.forEach(e -> tryOf.put(e.id(), e.meta().get("try")));
            assertEquals(Map.of("p0", "1", "p1", "3", "p3", "2"), tryOf);
            kept.forEach(e -> assertEquals(TracesTrainer.KEY, e.meta().get("source")));
            JsonObject prov = provenance(run, "traces");
            assertEquals(4, prov.get("prompts").getAsInt());
            assertEquals(3, prov.get("prompts-kept").getAsInt());
            assertEquals(1, prov.get("prompts-dropped").getAsInt());
            JsonArray tries = prov.getAsJsonArray("tries");
            int[][] expected = {{4, 1, 1}, {3, 1, 1}, {2, 1, 1}, {1, 0, 0}};
            assertEquals(4, tries.size());
            for (int t = 0; t < 4; t++) {
                JsonObject o = tries.get(t).getAsJsonObject();
                assertEquals(expected[t][0], o.get("sampled").getAsInt(), "sampled at try " + (t + 1));
                assertEquals(expected[t][1], o.get("correct").getAsInt(), "correct at try " + (t + 1));
                assertEquals(expected[t][2], o.get("kept").getAsInt(), "kept at try " + (t + 1));
            }
            assertTrue(prov.get("writer").getAsString().contains("teacher"), prov.toString());
        }
    }

    @Test
    void keepAllSamplesEveryPromptEveryTry(@TempDir Path dir) throws Exception {
        try (TestRun run = run(dir, "")) {
            new TracesTrainer().run(run, new StageSpec("traces", TracesTrainer.KEY, ConfigFactory.parseString(
                    "tries = 4, keep = all, max-new-tokens = 6, verifiers = [ { key = test.accept-at } ]")));
            JsonArray tries = provenance(run, "traces").getAsJsonArray("tries");
            for (int t = 0; t < 4; t++) {
                assertEquals(4, tries.get(t).getAsJsonObject().get("sampled").getAsInt());
            }
        }
    }

    @Test
    void aStageWithUnknownParametersOrAMissingWriterFailsAtItsPath(@TempDir Path dir) throws Exception {
        try (TestRun run = run(dir, "")) {
            InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> new TracesTrainer().run(run,
                    new StageSpec("traces", TracesTrainer.KEY, ConfigFactory.parseString(
                            "tris = 4, config-path = \"method.params.stages[0].data.params\""))));
            assertTrue(e.getMessage().startsWith("method.params.stages[0].data.params.tris: unknown key"),
                    e.getMessage());
            e = assertThrows(InvalidConfigException.class, () -> new TracesTrainer().run(run, new StageSpec("traces",
                    TracesTrainer.KEY, ConfigFactory.parseString("writer = \"stage:nothing\", tries = 1"))));
            assertTrue(e.getMessage().startsWith("stage traces.writer: no earlier stage"), e.getMessage());
        }
    }

    @Test
    void chosenIsTheBestAndRejectedARandomOther() {
        List<RewardSet.Scored> s = List.of(scored(0.2), scored(0.9), scored(0.1), scored(0.9));
        Random rng = new Random(1);
        for (int i = 0; i < 50; i++) {
            AifTrainer.Choice c = AifTrainer.choose(s, rng);
            assertTrue(c.chosen() == 1 || c.chosen() == 3, "a best one: " + c);
            assertNotEquals(c.chosen(), c.rejected());
        }
        // every other completion is rejected sometimes
        java.util.Set<Integer> rejected = new java.util.HashSet<>();
        for (int i = 0; i < 200; i++) {
            rejected.add(AifTrainer.choose(s, rng).rejected());
        }
        assertEquals(java.util.Set.of(0, 1, 2, 3), rejected);
    }

    private static RewardSet.Scored scored(double v) {
        return new RewardSet.Scored(v, new float[0], RewardValue.Verdict.UNKNOWN, new double[] {v});
    }

    @Test
    void aiFeedbackPairsThenDpoWidensTheChosenMargin(@TempDir Path dir) throws Exception {
        try (TestRun run = run(dir, """
                student.model-dir = "%s"
                train.loss = [ { key = dpo.sigmoid, params { beta = 0.5 } } ]
                train.sampler { key = dpo.pairs, params { file = "stage:aif" } }
                """.formatted(dir.resolve("teacher")))) {
            Path other = dir.resolve("other");
            run.writeTinyModel(other, 17);
            StageResult aif = new AifTrainer().run(run, new StageSpec("aif", AifTrainer.KEY, ConfigFactory.parseString(
                    "completions = 3, max-new-tokens = 8, rewards = [ { key = test.id-sum } ], pool = [ { model = teacher },"
                            + " { model = \"" + other + "\", temperature = 1.5 } ]")));
            List<Example> pairs = run.data().readJsonl(run.runDir().resolve("stages/aif/data.jsonl"));
            JsonObject prov = provenance(run, "aif");
            assertEquals(4, prov.get("prompts").getAsInt());
            assertEquals(pairs.size() + prov.get("dropped-ties").getAsInt(), 4);
            assertEquals((double) pairs.size(), aif.metrics().get("pairs"));
            for (Example e : pairs) {
                assertTrue(Double.parseDouble(e.meta().get("chosen-score"))
                        > Double.parseDouble(e.meta().get("rejected-score")), e.toString());
                assertTrue(e.meta().containsKey(PairSampler.REJECTED));
            }
            JsonArray pool = prov.getAsJsonArray("pool");
            assertEquals(8, pool.get(0).getAsJsonObject().get("completions").getAsInt(), "completions 1 and 3 of 4 prompts");
            assertEquals(4, pool.get(1).getAsJsonObject().get("completions").getAsInt(), "completion 2 of 4 prompts");

            // the reference's summed log-probabilities are the starting student's
            try (NDManager m = run.manager().newSubManager();
                 LanguageModel student = run.models().load(dir.resolve("teacher"), DataType.FLOAT32, m)) {
                Sampler sampler = run.factory(ContributionKind.SAMPLER, PairSampler.KEY, SamplerFactory.class).create(
                        run.samplerContext(run.models().tokenizer(dir.resolve("teacher")), student, null, 4, 32),
                        ConfigFactory.parseString("file = \"stage:aif\"")
                                .withFallback(run.defaults(ContributionKind.SAMPLER, PairSampler.KEY)));
                TokenBatch b = sampler.next(m);
                assertEquals(4, b.inputIds().getShape().get(0), "two pairs");
                NDArray logits = student.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits();
                logits.attach(m);
                float[] sums = DpoLoss.rowSums(logits, b, 64, m);
                float[] ref = b.extra(PairSampler.REFERENCE_LOGPROBS).toFloatArray();
                for (int i = 0; i < 4; i++) {
                    assertEquals(sums[i], ref[i], 1e-4f, "row " + i);
                }
            }
            StageResult ddpo = new KdTrainer().run(run, KdStage.named("ddpo").withTrain(ConfigFactory.parseString(
                    "steps = 8")));
            for (Map<String, Object> s : run.steps()) {
                assertTrue(Double.isFinite(((Number) s.get("loss")).doubleValue()), s.toString());
            }
            double before = margin(run, dir.resolve("teacher"), pairs);
            double after = margin(run, ddpo.model(), pairs);
            assertTrue(after > before, "DPO widens log pi(chosen) - log pi(rejected): " + before + " -> " + after);
        }
    }

    /** Mean over pairs of log π(chosen) − log π(rejected) under the model in {@code dir}. */
    private static double margin(TestRun run, Path dir, List<Example> pairs) throws Exception {
        var tok = run.models().tokenizer(run.runDir().getParent().resolve("teacher"));
        try (NDManager m = run.manager().newSubManager();
             LanguageModel model = run.models().load(dir, DataType.FLOAT32, m)) {
            List<Records.Encoded> rows = new java.util.ArrayList<>();
            for (Example e : pairs) {
                rows.add(Records.encode(e, tok, 32));
                rows.add(Records.encode(Example.pair(e.id(), e.prompt(), e.meta().get(PairSampler.REJECTED), e.meta()),
                        tok, 32));
            }
            TokenBatch b = Records.batch(rows, tok.padId(), m);
            NDArray logits = model.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())).logits();
            logits.attach(m);
            float[] s = DpoLoss.rowSums(logits, b, 64, m);
            double sum = 0;
            for (int i = 0; i < s.length; i += 2) {
                sum += s[i] - s[i + 1];
            }
            return sum / (s.length / 2.0);
        }
    }
}
