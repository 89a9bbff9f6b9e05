package org.distillery.kit.stage;

import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.StageSpec;
import org.distillery.kit.config.Params;

/**
 * Helpers for methods that build stages: laying a method parameter shaped like the {@code train}
 * block over a {@link KdStage}, and the closing {@code eval.report} stage.
 *
 * <pre>
 * KdStage sft = KdStage.named("sft").withLoss(List.of(LossSpec.of("kd.sft")));
 * if (p.has("sft")) {
 *     sft = Stages.overTrain(sft, p.child("sft"));      // e.g. sft { steps = 300, lr = 1e-3 }
 * }
 * stages.add(sft);
 * stages.add(Stages.evaluate(params.getConfig("evaluate"), List.of("sft")));
 * </pre>
 */
public final class Stages {

    /** The registry key of the built-in evaluation trainer. */
    public static final String EVAL_REPORT = "eval.report";

    /** The name of the closing evaluation stage. */
    public static final String EVALUATE = "evaluate";

    private Stages() {
    }

    /**
     * Lays {@code block}, shaped like the experiment's {@code train} block, over {@code base}: its
     * {@code loss} replaces the stage's terms, its {@code sampler} replaces the stage's sampler (a
     * {@code sampler} without {@code key} keeps the stage's and lays its {@code params} over the
     * stage's), its {@code init-from-stage} replaces where the student starts, and every other key
     * overrides the {@code train} setting of that name for this stage.
     */
    public static KdStage overTrain(KdStage base, Params block) {
        KdStage out = base;
        Config rest = block.config();
        if (block.has("loss")) {
            out = out.withLoss(block.losses("loss"));
            rest = rest.withoutPath("loss");
        }
        if (block.has("sampler")) {
            Params node = block.child("sampler").allowOnly("key", "params");
            Config params = node.has("params") ? node.child("params").config() : ConfigFactory.empty();
            if (node.has("key")) {
                out = out.withSampler(new ContributionRef(node.string("key"), params));
            } else if (base.sampler() != null) {
                out = out.withSampler(new ContributionRef(base.sampler().key(),
                        params.withFallback(base.sampler().params())));
            } else {
                throw new InvalidConfigException(node.at("key"), "is missing", null, "a registered sampler key");
            }
            rest = rest.withoutPath("sampler");
        }
        if (block.has("init-from-stage")) {
            out = out.withInitFrom(block.string("init-from-stage"));
            rest = rest.withoutPath("init-from-stage");
        }
        return rest.isEmpty() ? out : out.withTrain(rest);
    }

    /** The closing {@code eval.report} stage over {@code students} (stage names), with a method's {@code evaluate} block. */
    public static StageSpec evaluate(Config evaluate, List<String> students) {
        return new StageSpec(EVALUATE, EVAL_REPORT,
                evaluate.withValue("students", ConfigValueFactory.fromIterable(students)));
    }
}
