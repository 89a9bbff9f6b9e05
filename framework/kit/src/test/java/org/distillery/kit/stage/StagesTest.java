package org.distillery.kit.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.typesafe.config.ConfigFactory;

import org.junit.jupiter.api.Test;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;

/** {@link Stages}: a {@code train}-shaped block laid over a {@link KdStage}, and the closing evaluation. */
class StagesTest {

    private static final String PATH = "method.params.sft";

    private static Params block(String hocon) {
        return Params.of(ConfigFactory.parseString(hocon), PATH);
    }

    /** A stage with every field set, as a method builds one. */
    private static KdStage base() {
        return KdStage.named("sft")
                .withLoss(List.of(LossSpec.of("kd.sft")))
                .withSampler(new ContributionRef("data.dataset", ConfigFactory.parseString("file = a.jsonl, shuffle = true")))
                .withInitFrom("")
                .withTrain(ConfigFactory.parseString("steps = 100, batch-size = 4, optimizer { beta2 = 0.99 }"))
                .withStudent(ConfigFactory.parseString("layers = 2"))
                .withTeacher(ConfigFactory.parseString("key = teacher.local"))
                .at("method.params");
    }

    @Test
    void anEmptyBlockChangesNothing() {
        KdStage b = base();
        assertSame(b, Stages.overTrain(b, block("")));
    }

    @Test
    void lossReplacesTheStagesTerms() {
        KdStage out = Stages.overTrain(base(), block("loss = [{key = kd.forward-kl, weight = 0.5, "
                + "params { temperature = 2 }}, {key = kd.sft}]"));
        assertEquals(2, out.loss().size());
        assertEquals("kd.forward-kl", out.loss().get(0).key());
        assertEquals(0.5, out.loss().get(0).weight());
        assertEquals(2, out.loss().get(0).params().getInt("temperature"));
        assertEquals("kd.sft", out.loss().get(1).key());
        assertEquals(base().train(), out.train(), "loss is not a train override");

        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> Stages.overTrain(base(), block("loss = [{weight = 1}]")));
        assertEquals(PATH + ".loss[0].key", e.path());
    }

    @Test
    void aSamplerWithAKeyReplacesTheStagesSampler() {
        KdStage out = Stages.overTrain(base(), block("sampler { key = gkd.on-policy, params { lambda = 0.5 } }"));
        assertEquals("gkd.on-policy", out.sampler().key());
        assertEquals(ConfigFactory.parseString("lambda = 0.5"), out.sampler().params(), "the base's params do not carry over");

        KdStage bare = Stages.overTrain(KdStage.named("x"), block("sampler { key = gkd.on-policy }"));
        assertEquals(ContributionRef.of("gkd.on-policy"), bare.sampler());
    }

    @Test
    void aSamplerWithoutAKeyLaysItsParamsOverTheBasesSampler() {
        KdStage out = Stages.overTrain(base(), block("sampler { params { shuffle = false, limit = 3 } }"));
        assertEquals("data.dataset", out.sampler().key());
        assertEquals(ConfigFactory.parseString("file = a.jsonl, shuffle = false, limit = 3"), out.sampler().params());
        assertEquals(base().train(), out.train(), "sampler is not a train override");
    }

    @Test
    void aSamplerWithoutAKeyAndNoBaseSamplerIsAnErrorWithItsPath() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> Stages.overTrain(KdStage.named("sft"), block("sampler { params { limit = 3 } }")));
        assertEquals(PATH + ".sampler.key", e.path());
        assertTrue(e.getMessage().contains("is missing"), e.getMessage());

        e = assertThrows(InvalidConfigException.class,
                () -> Stages.overTrain(base(), block("sampler { kee = data.dataset }")));
        assertEquals(PATH + ".sampler.kee", e.path());
        assertEquals("key, params", e.accepted());
    }

    @Test
    void initFromStageReplacesWhereTheStudentStarts() {
        assertEquals("sft", Stages.overTrain(base(), block("init-from-stage = sft")).initFrom());
        assertEquals("", Stages.overTrain(KdStage.named("x").withInitFrom("sft"),
                block("init-from-stage = \"\"")).initFrom(), "'' goes back to the student block");
        assertNull(Stages.overTrain(KdStage.named("x"), block("steps = 3")).initFrom());
        assertEquals(base().train(), Stages.overTrain(base(), block("init-from-stage = sft")).train());
    }

    @Test
    void otherKeysBecomeTrainOverridesOverEarlierOnes() {
        KdStage out = Stages.overTrain(base(), block("steps = 300, lr = 1e-3, optimizer { beta1 = 0.8 }, "
                + "loss = [{key = kd.sft}], init-from-stage = warm"));
        assertEquals(300, out.train().getInt("steps"), "the block wins");
        assertEquals(4, out.train().getInt("batch-size"), "earlier overrides stay");
        assertEquals(1e-3, out.train().getDouble("lr"));
        assertEquals(0.8, out.train().getDouble("optimizer.beta1"));
        assertEquals(0.99, out.train().getDouble("optimizer.beta2"), "objects merge");
        assertTrue(!out.train().hasPath("loss") && !out.train().hasPath("init-from-stage")
                && !out.train().hasPath("sampler"), out.train().toString());
        assertEquals("warm", out.initFrom());

        // what the block does not touch stays as it was
        KdStage b = base();
        assertEquals(b.name(), out.name());
        assertEquals(b.sampler(), out.sampler());
        assertEquals(b.student(), out.student());
        assertEquals(b.teacher(), out.teacher());
        assertEquals(b.configPath(), out.configPath());
        assertEquals(KdStage.TRAINER, out.trainer());
    }

    @Test
    void evaluateIsTheClosingReportStage() {
        StageSpec eval = Stages.evaluate(ConfigFactory.parseString("metrics = [rouge-l], students = [old]"),
                List.of("sft", "kd"));
        assertEquals(Stages.EVALUATE, eval.name());
        assertEquals("evaluate", eval.name());
        assertEquals(Stages.EVAL_REPORT, eval.trainer());
        assertEquals("eval.report", eval.trainer());
        assertEquals(List.of("sft", "kd"), eval.params().getStringList("students"), "the method's students win");
        assertEquals(List.of("rouge-l"), eval.params().getStringList("metrics"), "the evaluate block is kept");
        assertEquals(List.of(), Stages.evaluate(ConfigFactory.empty(), List.of()).params().getStringList("students"));
    }
}
