package org.distillery.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.kit.data.Records;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.tensor.DjlTensorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Metrics that need a model, on tiny random GPT-2s, against hand computations. */
class EvaluatorTest {

    private static DjlTensorService tensors;
    private static final HfModelService MODELS = new HfModelService();
    private static final Tokenizer TOK = new ByteTokenizer();

    @BeforeAll
    static void start() {
        tensors = DjlTensorService.start("cpu");
    }

    @AfterAll
    static void stop() {
        tensors.close();
    }

    private static LanguageModel tiny(long seed, double init, NDManager m) {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", 259);
        raw.put("n_embd", 32);
        raw.put("n_layer", 1);
        raw.put("n_head", 2);
        raw.put("n_positions", 128);
        raw.put("bos_token_id", 257);
        raw.put("eos_token_id", 258);
        raw.put("initializer_range", init);
        return MODELS.create(ModelConfigs.fromMap(raw), seed, m);
    }

    private static List<Example> examples() {
        List<Example> out = new ArrayList<>();
        out.add(Example.pair("f1", "where does ada live?", "in paris", Map.of("task", "fact")));
        out.add(Example.pair("d1", "describe rex.", "rex is a brown dog who likes the park", Map.of("task", "describe")));
        out.add(Example.pair("y1", "does ada live in paris?", "yes", Map.of("task", "yesno", "label", "yes")));
        out.add(Example.pair("y2", "does ada live in rome?", "no", Map.of("task", "yesno", "label", "no")));
        out.add(Example.pair("y3", "is rex a cat?", "no", Map.of("task", "yesno", "label", "no")));
        return out;
    }

    /** Sum of -log p(ids[t+1] | ids[..t]) over the response part, from one unpadded forward, in double. */
    private static double[] handLoss(LanguageModel model, Example e, NDManager m) {
        Records.Encoded s = Records.encode(e, TOK, 1000);
        int[] ids = s.ids();
        long[] in = new long[ids.length];
        for (int i = 0; i < ids.length; i++) {
            in[i] = ids[i];
        }
        float[] logits = model.forward(m.create(in, new Shape(1, in.length)), ForwardOptions.inference()).logits()
                .toFloatArray();
        int v = 259;
        double sum = 0;
        int n = 0;
        for (int t = s.promptLength() - 1; t < ids.length - 1; t++) {
            double max = Double.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) {
                max = Math.max(max, logits[t * v + j]);
            }
            double z = 0;
            for (int j = 0; j < v; j++) {
                z += Math.exp(logits[t * v + j] - max);
            }
            sum -= logits[t * v + ids[t + 1]] - max - Math.log(z);
            n++;
        }
        return new double[] {sum, n};
    }

    @Test
    void lmLossEqualsAHandComputationAndEceOfOneRecordIsItsConfidenceGap(@TempDir Path dir) throws Exception {
        try (EvalResources run = new EvalResources(tensors, MODELS, null, 1);
             NDManager m = run.manager().newSubManager();
             LanguageModel model = tiny(3, 0.2, m)) {
            List<Example> ex = examples();
            double sum = 0;
            double n = 0;
            for (Example e : ex) {
                double[] h = handLoss(model, e, m);
                sum += h[0];
                n += h[1];
            }
            // "in paris" 8 + eos, 37 + 1, "yes" 3 + 1, "no" 2 + 1, 2 + 1
            assertEquals(9 + 38 + 4 + 3 + 3, n);
            Evaluator ev = new Evaluator(run, 4, 2);
            Map<String, Double> f = ev.evaluate(model, null, TOK, ex, List.of(Evaluator.MetricSpec.of("eval.lm-loss",
                    ConfigFactory.parseString("batch-size = 2")))).figures();
            assertEquals(sum / n, f.get("lm-loss"), 1e-5);
            assertEquals(Math.exp(sum / n), f.get("ppl"), 1e-4);
            assertEquals(n, f.get("lm-loss.tokens"));

            // ECE on the one record y1: p(yes eos) vs p(no eos), renormalised
            Example y1 = ex.get(2);
            double yes = -handLoss(model, EceMetric.withResponse(y1, "yes"), m)[0];
            double no = -handLoss(model, EceMetric.withResponse(y1, "no"), m)[0];
            double pYes = 1 / (1 + Math.exp(no - yes));
            double conf = Math.max(pYes, 1 - pYes);
            double acc = pYes >= 0.5 ? 1 : 0;
            Map<String, Double> e = ev.evaluate(model, null, TOK, List.of(y1), List.of(Evaluator.MetricSpec.of("eval.ece")))
                    .figures();
            assertEquals(1.0, e.get("ece.n"));
            assertEquals(acc, e.get("ece.accuracy"));
            assertEquals(Math.abs(acc - conf), e.get("ece"), 1e-5);
        }
    }

    @Test
    void evaluatesEveryMetricOnceAndWritesTheEvalFile(@TempDir Path dir) throws Exception {
        try (EvalResources run = new EvalResources(tensors, MODELS, null, 1);
             NDManager m = run.manager().newSubManager();
             LanguageModel student = tiny(1, 0.02, m);
             LanguageModel teacher = tiny(2, 0.2, m)) {
            List<Example> ex = examples();
            Map<String, String> params = Map.of(
                    "eval.exaccerr", "lengths = [2, 4]",
                    "eval.exaccerr-alive", "lengths = [2, 4]",
                    // a random model cannot follow the rubric: every reply is unparsed, and counted
                    "eval.judge", "backend = local, max-tokens = 6, cache-dir = \"" + dir.resolve("judge-cache") + "\"");
            List<Evaluator.MetricSpec> specs = new ArrayList<>();
            for (var b : EvalModule.contributions()) {
                if (b.kind() == ContributionKind.METRIC) {
                    specs.add(Evaluator.MetricSpec.of(b.key(), ConfigFactory.parseString(params.getOrDefault(b.key(), ""))));
                }
            }
            specs.add(new Evaluator.MetricSpec("eval.rouge-l", ConfigFactory.parseString("tasks = [describe]"),
                    "describe/"));
            Evaluator.Result r = new Evaluator(run, 6, 2).evaluate(student, teacher, TOK, ex, specs);
            Map<String, Double> f = r.figures();
            assertEquals(ex.size(), r.predictions().size());
            for (String k : List.of("rouge-l", "exact-match", "ece", "ece.accuracy", "lm-loss", "ppl", "exaccerr@2",
                    "exaccerr@4", "exaccerr-r@4", "exaccerr-eps@4", "exaccerr-alive@4", "judge.logprob",
                    "judge.ref-logprob", "judge.win-rate", "describe/rouge-l")) {
                assertTrue(f.containsKey(k) && Double.isFinite(f.get(k)), k + " in " + f);
            }
            assertTrue(f.containsKey("distinct-4"), f.toString());
            assertEquals(3.0, f.get("ece.n"));
            assertTrue(f.get("exaccerr-eps@4") > 0, f.toString());
            assertEquals(5.0, f.get("judge.n") + f.get("judge.unparsed"), f.toString());
            // greedy predictions are deterministic and the same one at a time as batched
            List<String> one = Evaluator.generate(run, student, TOK, ex.subList(1, 2), 6, 1);
            assertEquals(r.predictions().get(1), one.get(0));

            Files.writeString(dir.resolve("config.conf"), "experiment { name = t, seed = 1 }");
            Evaluator.write(Evaluator.evalFile(dir, "student"), Map.of("model", "student"), r, ex);
            assertTrue(Files.exists(dir.resolve("eval/student.predictions.jsonl")));
            RunComparison.RunRecord rec = RunComparison.read(dir);
            assertEquals(f.get("rouge-l"), rec.rows().get("student").get("rouge-l"));
        }
    }

    @Test
    void sampledDecodingAveragesEveryTextFigureOverTheGenerationSeeds(@TempDir Path dir) throws Exception {
        try (EvalResources run = new EvalResources(tensors, MODELS, null, 1);
             NDManager m = run.manager().newSubManager();
             LanguageModel student = tiny(1, 0.2, m)) {
            List<Example> ex = examples();
            Decoding decoding = new Decoding(true, 1f, 0, 1f, List.of(1L, 2L, 3L));
            List<Evaluator.MetricSpec> specs = List.of(Evaluator.MetricSpec.of("eval.rouge-l",
                    ConfigFactory.parseString("tokenizer = whitespace")), Evaluator.MetricSpec.of("eval.distinct-4",
                    ConfigFactory.parseString("n = 1")), Evaluator.MetricSpec.of("eval.lm-loss"));
            Evaluator.Result r = new Evaluator(run, 8, 2, decoding).evaluate(student, null, TOK, ex, specs);
            assertEquals(3, r.samples().size());
            assertEquals(3, r.perSeed().size());
            for (String fig : List.of("rouge-l", "distinct-1")) {
                double mean = 0;
                for (long seed : decoding.seeds()) {
                    mean += r.perSeed().get(seed).get(fig) / 3;
                }
                assertEquals(mean, r.figures().get(fig), 1e-12, fig);
            }
            // losses read no responses: computed once, not per seed
            assertTrue(!r.perSeed().get(1L).containsKey("lm-loss"));
            // each seed's responses are what generating with that seed alone gives, and seeds differ
            assertEquals(Evaluator.generate(run, student, TOK, ex, 8, 2, decoding, 2L), r.samples().get(1));
            assertTrue(!r.samples().get(0).equals(r.samples().get(1)), r.samples().toString());
            Evaluator.write(dir.resolve("e.json"), Map.of("model", "s"), r, ex);
            String json = Files.readString(dir.resolve("e.json"));
            assertTrue(json.contains("\"per-seed\"") && json.contains("\"mode\": \"sample\""), json);
            assertTrue(Files.readString(dir.resolve("e.predictions.jsonl")).contains("\"samples\""));
        }
    }

    @Test
    void badMetricKeysAndParametersAreRefusedBeforeAnyWork(@TempDir Path dir) {
        try (EvalResources run = new EvalResources(tensors, MODELS, null, 1)) {
            InvalidConfigException unknownKey = assertThrows(InvalidConfigException.class,
                    () -> Evaluator.resolve(run, Evaluator.MetricSpec.of("eval.bleu")));
            assertTrue(unknownKey.getMessage().contains("eval.rouge-l"), unknownKey.getMessage());
            InvalidConfigException unknownParam = assertThrows(InvalidConfigException.class,
                    () -> Evaluator.resolve(run, Evaluator.MetricSpec.of("eval.ece",
                            ConfigFactory.parseString("binz = 5"))));
            assertTrue(unknownParam.getMessage().startsWith("eval.ece.binz"), unknownParam.getMessage());
            assertThrows(InvalidConfigException.class, () -> Evaluator.resolve(run, Evaluator.MetricSpec.of("eval.ece",
                    ConfigFactory.parseString("bins = many"))));
            assertThrows(InvalidConfigException.class, () -> Evaluator.resolve(run,
                    Evaluator.MetricSpec.of("eval.ece", ConfigFactory.parseString("mode = guess"))));
        }
    }
}
