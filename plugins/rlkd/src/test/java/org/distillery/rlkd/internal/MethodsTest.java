package org.distillery.rlkd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The methods' stages, their checks of bad input, and the two metrics. */
class MethodsTest {

    private static TestRun run;

    @BeforeAll
    static void setUp() {
        run = TestRun.bare();
    }

    @AfterAll
    static void tearDown() {
        run.close();
    }

    private static List<Stage> stages(String key, String params) {
        Config p = ConfigFactory.parseString(params).withFallback(run.defaults(ContributionKind.METHOD, key)).resolve();
        return run.factory(ContributionKind.METHOD, key, MethodFactory.class).stages(p);
    }

    @Test
    void compareRunsDataStagesAndVariantsInOrderAndEvaluatesTheStudents() {
        List<Stage> s = stages(CompareMethod.KEY, """
                stages = [
                  { name = sft-answers, loss = [ { key = kd.sft } ] }
                  { name = traces, data { key = rl.traces, params { tries = 2 } } }
                  { name = sft-traces, loss = [ { key = kd.sft } ], train.sampler { key = data.dataset, params.file = "stage:traces" } }
                  { name = grpo, init-from = sft-traces, loss = [ { key = rl.grpo } ], train { steps = 5, sampler { key = rl.grpo } } }
                ]
                """);
        assertEquals(List.of("sft-answers", "traces", "sft-traces", "grpo", "evaluate"), s.stream().map(Stage::name).toList());
        StageSpec traces = (StageSpec) s.get(1);
        assertEquals(TracesTrainer.KEY, traces.trainer());
        assertEquals(2, traces.params().getInt("tries"));
        assertEquals("method.params.stages[1].data.params", traces.params().getString(StageSupport.CONFIG_PATH));
        assertEquals("sft-traces", ((KdStage) s.get(3)).initFrom());
        assertEquals("rl.grpo", ((KdStage) s.get(3)).sampler().key());
        assertEquals(List.of("sft-answers", "sft-traces", "grpo"),
                ((StageSpec) s.get(4)).params().getStringList("students"), "data stages are not evaluated");
    }

    @Test
    void overridesShortenEveryStage() {
        List<Stage> s = stages(CompareMethod.KEY, """
                stages = [
                  { name = traces, data { key = rl.traces, params { prompts = 500, tries = 2 } } }
                  { name = sft, loss = [ { key = kd.sft } ], train { steps = 300 } }
                ]
                train-overrides { steps = 3 }
                data-overrides { prompts = 8 }
                """);
        assertEquals(8, ((StageSpec) s.get(0)).params().getInt("prompts"));
        assertEquals(2, ((StageSpec) s.get(0)).params().getInt("tries"));
        assertEquals(3, ((KdStage) s.get(1)).train().getInt("steps"));
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> stages(CompareMethod.KEY,
                "stages = [ { name = t, data { key = rl.traces } } ], data-overrides { promts = 8 }"));
        assertTrue(e.getMessage().startsWith("method.params.stages[0].data.params.promts: unknown key"), e.getMessage());
    }

    @Test
    void badStagesFailAtTheirPath() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> stages(CompareMethod.KEY,
                "stages = [ { name = traces, data { key = rl.traces, params { tris = 2 } } } ]"));
        assertTrue(e.getMessage().startsWith("method.params.stages[0].data.params.tris: unknown key"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> stages(CompareMethod.KEY,
                "stages = [ { name = aif, data { key = dpo.aif, params { pool = [] } } } ]"));
        assertTrue(e.getMessage().startsWith("method.params.stages[0].data.params.pool: needs at least one model"),
                e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> stages(CompareMethod.KEY,
                "stages = [ { name = g, init-from = nothing, loss = [ { key = rl.grpo } ] } ]"));
        assertTrue(e.getMessage().startsWith("method.params.stages[0].init-from: names no earlier stage"),
                e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> stages(CompareMethod.KEY,
                "stages = [ { name = t, data { key = rl.traces, params { verifiers = [ { weight = 1 } ] } } } ]"));
        assertTrue(e.getMessage().startsWith("method.params.stages[0].data.params.verifiers[0].key: is missing"),
                e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> stages(CompareMethod.KEY, "stages = []"));
        assertTrue(e.getMessage().startsWith("method.params.stages: needs at least one stage"), e.getMessage());
    }

    @Test
    void zephyrIsDsftThenAiFeedbackThenDdpoFromDsftThenEvaluate() {
        List<Stage> s = stages(ZephyrMethod.KEY, "dsft-file = \"stage:traces\", beta = 0.2, ddpo { steps = 7 }");
        assertEquals(List.of("dsft", "aif", "ddpo", "evaluate"), s.stream().map(Stage::name).toList());
        KdStage dsft = (KdStage) s.get(0);
        assertEquals("stage:traces", dsft.sampler().params().getString("file"));
        StageSpec aif = (StageSpec) s.get(1);
        assertEquals(List.of("teacher", "stage:dsft"), aif.params().getConfigList("pool").stream()
                .map(c -> c.getString("model")).toList(), "the pool defaults to the teacher and the dSFT student");
        KdStage ddpo = (KdStage) s.get(2);
        assertEquals("dsft", ddpo.initFrom());
        assertEquals(DpoLoss.KEY, ddpo.loss().get(0).key());
        assertEquals(0.2, ddpo.loss().get(0).params().getDouble("beta"), 1e-12);
        assertEquals("initial", ddpo.sampler().params().getString("reference"));
        assertEquals("stage:aif", ddpo.sampler().params().getString("file"));
        assertEquals(7, ddpo.train().getInt("steps"));
        assertEquals(List.of("dsft", "ddpo"), ((StageSpec) s.get(3)).params().getStringList("students"));
    }

    @Test
    void r1IsTracesThenSftThenEvaluate() {
        List<Stage> s = stages(R1Method.KEY, "traces { tries = 8 }, sft { steps = 9 }");
        assertEquals(List.of("traces", "sft", "evaluate"), s.stream().map(Stage::name).toList());
        assertEquals(8, ((StageSpec) s.get(0)).params().getInt("tries"));
        assertEquals("stage:traces", ((KdStage) s.get(1)).sampler().params().getString("file"));
        assertEquals(9, ((KdStage) s.get(1)).train().getInt("steps"));
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> stages(R1Method.KEY, "traces { keep = some }"));
        assertTrue(e.getMessage().startsWith("method.params.traces.keep: unknown choice"), e.getMessage());
    }

    @Test
    void accuracyAndResponseLengthReadTheFinalAnswer() {
        List<Example> examples = List.of(
                Example.pair("a", "1 + 1 = ?", "", Map.of("task", "reasoning", "answer", "2")),
                Example.pair("b", "2 + 2 = ?", "", Map.of("task", "reasoning", "answer", "4")),
                Example.pair("c", "9 + 9 = ?", "", Map.of("task", "reasoning-ood", "answer", "18")),
                Example.pair("d", "describe", "", Map.of("task", "describe")));
        List<String> predictions = List.of("<think>1+1=2 2</think><answer>2</answer>", "<answer>5</answer>",
                "<think>x</think><answer>18</answer>", "a description");
        EvalContext ctx = new EvalContext(run, null, null, new ByteTokenizer(), examples, predictions);
        Metric all = metric(AccuracyMetric.KEY, "");
        Map<String, Double> f = all.evaluate(ctx);
        assertEquals(2.0 / 3, f.get("accuracy"), 1e-12, "records without meta.answer are not counted");
        assertEquals(2.0 / 3, f.get("format"), 1e-12);
        assertEquals(0.5, metric(AccuracyMetric.KEY, "tasks = [reasoning]").evaluate(ctx).get("accuracy"), 1e-12);
        assertEquals(1.0, metric(AccuracyMetric.KEY, "tasks = [reasoning-ood]").evaluate(ctx).get("accuracy"), 1e-12);
        double len = (predictions.get(0).length() + predictions.get(1).length()) / 2.0;
        assertEquals(len, metric(ResponseLengthMetric.KEY, "tasks = [reasoning]").evaluate(ctx)
                .get("response-length"), 1e-12, "byte tokens");
    }

    private static Metric metric(String key, String params) {
        return run.factory(ContributionKind.METRIC, key, MetricFactory.class).create(ConfigFactory.parseString(params)
                .withFallback(run.defaults(ContributionKind.METRIC, key)));
    }
}
