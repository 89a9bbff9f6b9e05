package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageSpec;

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

    private static List<StageSpec> stages(String params) {
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
        List<StageSpec> s = stages("");
        assertEquals(List.of("sft", "minillm", "evaluate"), s.stream().map(StageSpec::name).toList());
        Config sft = s.get(0).params();
        assertEquals("train.kd", s.get(0).trainer());
        assertEquals("kd.sft", sft.getConfigList("loss").get(0).getString("key"));
        assertEquals("val.loss", sft.getString("select-metric"));
        assertTrue(sft.getBoolean("select-best"));
        Config mini = s.get(1).params();
        assertEquals("sft", mini.getString("init-from-stage"));
        assertEquals(RolloutSampler.KEY, mini.getString("sampler.key"));
        assertEquals(List.of(PolicyGradientLoss.KEY, SingleStepLoss.KEY, PretrainLoss.KEY),
                mini.getConfigList("loss").stream().map(c -> c.getString("key")).toList());
        assertEquals("rouge-l", mini.getString("select-metric"));
        assertEquals("eval.rouge-l", mini.getString("select-metric-key"));
        Config eval = s.get(2).params();
        assertEquals("eval.report", s.get(2).trainer());
        assertEquals(List.of("sft", "minillm"), eval.getStringList("students"));
        assertTrue(eval.getConfigList("metrics").stream().anyMatch(m -> m.getString("key").equals("eval.exaccerr")));
    }

    @Test
    void stageOverridesAndLmCoefReachTheirStages() {
        List<StageSpec> s = stages("""
                sft { steps = 30, lr = 5e-4 }
                minillm { steps = 12, sampler.params { rollout-size = 8 } }
                lm-coef = 0.5
                """);
        assertEquals(30, s.get(0).params().getLong("steps"));
        assertEquals(5e-4, s.get(0).params().getDouble("lr"));
        assertEquals("data.dataset", s.get(0).params().getString("sampler.key"), s.get(0).params().root().render());
        Config mini = s.get(1).params();
        assertEquals(12, mini.getLong("steps"));
        assertEquals(RolloutSampler.KEY, mini.getString("sampler.key"));
        assertEquals(8, mini.getInt("sampler.params.rollout-size"));
        assertEquals(0.5, mini.getConfigList("loss").get(2).getDouble("weight"));
        List<StageSpec> skipped = stages("skip-sft = true");
        assertEquals(List.of("minillm", "evaluate"), skipped.stream().map(StageSpec::name).toList());
        assertEquals("", skipped.get(0).params().getString("init-from-stage"));
        assertEquals(List.of("minillm"), skipped.get(1).params().getStringList("students"));
    }

    @Test
    void badParametersNameTheirPath() {
        var e = assertThrows(InvalidConfigException.class, () -> stages("lm-coef = -1"));
        assertEquals("method.params.lm-coef", e.path());
        e = assertThrows(InvalidConfigException.class, () -> stages("sft = 3"));
        assertEquals("method.params.sft", e.path());
    }
}
