package org.distillery.rlkd.internal;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;

import org.distillery.api.ContributionRef;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.kit.config.Params;
import org.distillery.kit.stage.Stages;

/**
 * {@code dpo.zephyr}: Zephyr's distilled alignment (Tunstall et al., arXiv 2310.16944; METHODS §10, A10).
 * <ol>
 *   <li>{@code dsft} ({@code train.kd}, {@code kd.sft} on {@code dsft-file}: data the teacher wrote, e.g.
 *       an {@code rl.traces} file; the {@code dsft} overrides);</li>
 *   <li>{@code aif} ({@code dpo.aif} with the {@code aif} block; its pool defaults to the teacher and the
 *       dSFT student, {@code stage:dsft}): preference pairs judged by the rewards;</li>
 *   <li>{@code ddpo} ({@code train.kd} from the dSFT student: {@code dpo.sigmoid} with β on
 *       {@code dpo.pairs} over {@code stage:aif}, reference = the dSFT model; the {@code ddpo} overrides);</li>
 *   <li>{@code evaluate} ({@code eval.report}): both students and the teacher.</li>
 * </ol>
 *
 * <pre>
 * method { key = dpo.zephyr, params { dsft-file = ..., dsft { steps = 300 }, aif { completions = 4 },
 *          beta = 0.1, ddpo { steps = 100, lr = 1e-4 } } }
 * </pre>
 */
final class ZephyrMethod implements MethodFactory {

    /** Registry key. */
    static final String KEY = "dpo.zephyr";

    @Override
    public String description() {
        return "Zephyr: dSFT on teacher data, AI-feedback pairs (dpo.aif), dDPO from dSFT (reference = dSFT), "
                + "eval.report";
    }

    @Override
    public List<Stage> stages(Config params) {
        Params p = Params.of(params, "method.params");
        KdStage dsft = KdStage.named("dsft").withLoss(List.of(LossSpec.of("kd.sft")))
                .withSampler(new ContributionRef("data.dataset",
                        ConfigFactory.parseMap(Map.of("file", p.string("dsft-file")))))
                .withInitFrom("");
        dsft = Methods.overTrain(dsft, Methods.block(p, "dsft"));
        Params aif = Methods.block(p, "aif");
        if (!aif.has("pool")) {
            aif = Params.of(aif.config().withValue("pool", ConfigValueFactory.fromIterable(List.of(
                    Map.of("model", "teacher"), Map.of("model", "stage:dsft")))), aif.path());
        }
        Stage pairs = Methods.dataStage("aif", AifTrainer.KEY, aif);
        double beta = p.positive("beta");
        KdStage ddpo = KdStage.named("ddpo")
                .withLoss(List.of(new LossSpec(DpoLoss.KEY, 1.0, ConfigFactory.parseMap(Map.of("beta", beta)))))
                .withSampler(new ContributionRef(PairSampler.KEY, ConfigFactory.parseMap(Map.of("file", "stage:aif",
                        "reference", "initial"))))
                .withInitFrom("dsft");
        ddpo = Methods.overTrain(ddpo, Methods.block(p, "ddpo"));
        return List.of(dsft, pairs, ddpo, Stages.evaluate(params.getConfig("evaluate"), List.of("dsft", "ddpo")));
    }
}
