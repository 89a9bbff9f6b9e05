package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The module binds every contribution with its defaults; the method's stages and overrides. */
class MiniLlmMethodTest {

    private static TestRun run;

    @BeforeAll
    static void setUp() {
        run = TestRun.bare();
    }

    @AfterAll
    static void tearDown() {
        run.close();
    }

    private static List<Stage> stages(String params) {
        return run.factory(ContributionKind.METHOD, MiniLlmMethod.KEY, MethodFactory.class).stages(
                ConfigFactory.parseString(params).withFallback(run.defaults(ContributionKind.METHOD, MiniLlmMethod.KEY)));
    }

    @Test
    void everyContributionIsBoundWithDefaults() {
        for (String key : Set.of(PolicyGradientLoss.KEY, SingleStepLoss.KEY, PretrainLoss.KEY)) {
            assertTrue(key.matches(ContributionKind.KEY_PATTERN));
            assertTrue(run.registry().find(ContributionKind.LOSS, key, Object.class).isPresent(), key);
        }
        Config sampler = run.defaults(ContributionKind.SAMPLER, RolloutSampler.KEY);
        assertEquals(0.2, sampler.getDouble("alpha"));
        assertEquals(4, sampler.getInt("ppo-epochs"));
        assertEquals(0.95, sampler.getDouble("gamma"), "the code's discount");
        assertTrue(sampler.getBoolean("include-current-reward"), "the code's return");
        assertEquals(0.5, sampler.getDouble("reward-scaling"));
        assertEquals(100.0, sampler.getDouble("reward-clip"));
        assertEquals(0.2, run.defaults(ContributionKind.LOSS, PolicyGradientLoss.KEY).getDouble("clip-epsilon"));
        assertTrue(!run.defaults(ContributionKind.LOSS, SingleStepLoss.KEY).getBoolean("importance-weight"),
                "the code's unweighted single-step term");
        assertEquals(0.5, run.defaults(ContributionKind.LOSS, PretrainLoss.KEY).getDouble("kd-ratio"));
    }

    @Test
    void defaultRecipeIsSftThenMiniLlmThenEvaluation() {
        List<Stage> s = stages("");
        assertEquals(List.of("sft", "minillm", "evaluate"), s.stream().map(Stage::name).toList());
        KdStage sft = (KdStage) s.get(0);
        assertEquals("train.kd", sft.trainer());
        assertEquals("kd.sft", sft.loss().get(0).key());
        assertEquals("data.dataset", sft.sampler().key());
        assertEquals("val.loss", sft.train().getString("select-metric"));
        assertTrue(sft.train().getBoolean("select-best"));
        KdStage mini = (KdStage) s.get(1);
        assertEquals("sft", mini.initFrom());
        assertEquals(RolloutSampler.KEY, mini.sampler().key());
        assertEquals(List.of(PolicyGradientLoss.KEY, SingleStepLoss.KEY, PretrainLoss.KEY),
                mini.loss().stream().map(LossSpec::key).toList());
        assertEquals("rouge-l", mini.train().getString("select-metric"));
        assertEquals("eval.rouge-l", mini.train().getString("select-metric-key"));
        StageSpec eval = (StageSpec) s.get(2);
        assertEquals("eval.report", eval.trainer());
        assertEquals(List.of("sft", "minillm"), eval.params().getStringList("students"));
        assertTrue(eval.params().getConfigList("metrics").stream()
                .anyMatch(m -> m.getString("key").equals("eval.exaccerr")));
    }

    @Test
    void stageOverridesAndLmCoefReachTheirStages() {
        List<Stage> s = stages("""
                sft { steps = 30, lr = 5e-4 }
                minillm { steps = 12, sampler.params { rollout-size = 8 } }
                lm-coef = 0.5
                """);
        KdStage sft = (KdStage) s.get(0);
        assertEquals(30, sft.train().getLong("steps"));
        assertEquals(5e-4, sft.train().getDouble("lr"));
        assertEquals("data.dataset", sft.sampler().key());
        KdStage mini = (KdStage) s.get(1);
        assertEquals(12, mini.train().getLong("steps"));
        assertEquals(RolloutSampler.KEY, mini.sampler().key());
        assertEquals(8, mini.sampler().params().getInt("rollout-size"));
        assertEquals(0.5, mini.loss().get(2).weight());
        List<Stage> skipped = stages("skip-sft = true");
        assertEquals(List.of("minillm", "evaluate"), skipped.stream().map(Stage::name).toList());
        assertEquals("", ((KdStage) skipped.get(0)).initFrom());
        assertEquals(List.of("minillm"), ((StageSpec) skipped.get(1)).params().getStringList("students"));
    }

    @Test
    void badParametersNameTheirPath() {
        var e = assertThrows(InvalidConfigException.class, () -> stages("lm-coef = -1"));
        assertEquals("method.params.lm-coef", e.path());
        e = assertThrows(InvalidConfigException.class, () -> stages("sft = 3"));
        assertEquals("method.params.sft", e.path());
    }
}
