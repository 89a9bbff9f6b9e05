package org.distillery.rlkd.internal;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code rl.r1}: DeepSeek-R1's distillation (arXiv 2501.12948; METHODS §11): plain SFT of the student
 * on the teacher's rejection-sampled traces, no RL.
 * <ol>
 *   <li>{@code traces} ({@code rl.traces} with the {@code traces} block): the teacher writes up to n
 *       responses per prompt; the verified ones are kept, with provenance;</li>
 *   <li>{@code sft} ({@code train.kd}, {@code kd.sft} on {@code stage:traces}, from the student block,
 *       with the {@code sft} overrides);</li>
 *   <li>{@code evaluate} ({@code eval.report}): the student and the teacher.</li>
 * </ol>
 *
 * <pre>
 * method { key = rl.r1, params { traces { tries = 4 }, sft { steps = 400 } } }
 * </pre>
 */
final class R1Method implements MethodFactory {

    /** Registry key. */
    static final String KEY = "rl.r1";

    @Override
    public String description() {
        return "R1-style distillation: teacher traces rejection-sampled by the verifiers, SFT on them, eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        Stage traces = Methods.dataStage("traces", TracesTrainer.KEY, Methods.block(p, "traces"));
        KdStage sft = KdStage.named("sft").withLoss(List.of(LossSpec.of("kd.sft")))
                .withSampler(new ContributionRef("data.dataset", ConfigFactory.parseMap(Map.of("file", "stage:traces"))))
                .withInitFrom("");
        sft = Methods.overTrain(sft, Methods.block(p, "sft"));
        return List.of(traces, sft, Stages.evaluate(params.getConfig("evaluate"), List.of("sft")));
    }
}
