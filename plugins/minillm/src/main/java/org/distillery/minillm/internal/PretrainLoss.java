package org.distillery.minillm.internal;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.loss.LossContext;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Scalars;
import org.distillery.kit.loss.RegisteredLoss;

/**
 * {@code minillm.pt}: MiniLLM's pre-training term on the corpus rows {@code minillm.rollout}
 * concatenates into each micro-batch (Gu et al., arXiv 2306.08543, L_PT; reference code
 * microsoft/LMOps {@code minillm/trainer.py}: {@code pt_loss = (1 − kd_ratio)·lm_loss +
 * kd_ratio·distil_loss}, official scripts {@code kd_ratio = 0.5}).
 *
 * <p>Composes the registered {@code kd.sft} and {@code kd.forward-kl} (kd-core, temperature 1)
 * with the batch's loss mask replaced by its {@code pt-mask}:
 * <pre>
 *   L_PT = (1 − r) · mean_pt CE(y) + r · mean_pt KL(p ‖ q_θ)
 * </pre>
 * The trainer divides every term by the batch's loss tokens, which are the rollout tokens N_r;
 * this term returns its sum over the N_pt corpus tokens times N_r / N_pt, so after that
 * division it is the mean over corpus tokens, as in the reference code. Its weight in the
 * experiment is MiniLLM's {@code lm_coef} (1.0). With no corpus rows it is 0.
 *
 * <p>Defaults: {@code kd-ratio = 0.5}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = minillm.pt, weight = 1.0, params { kd-ratio = 0.5 } } ]
 * </pre>
 */
final class PretrainLoss implements Loss {

    /** Registry key. */
    static final String KEY = "minillm.pt";

    private final RegisteredLoss lm;
    private final RegisteredLoss kd;
    private final double kdRatio;

    PretrainLoss(RegisteredLoss lm, RegisteredLoss kd, double kdRatio) {
        this.lm = lm;
        this.kd = kd;
        this.kdRatio = kdRatio;
    }

    @Override
    public Set<Need> needs() {
        return kdRatio > 0 ? EnumSet.of(Need.TEACHER_LOGITS) : Set.of();
    }

    @Override
    public LossValue compute(LossInput input) {
        TokenBatch batch = input.batch();
        NDArray ptMask = batch.extra(Extras.PT_MASK);
        double corpusTokens = Chunks.count(ptMask);
        if (corpusTokens == 0) {
            return new LossValue(input.manager().zeros(new Shape(), DataType.FLOAT32), 0);
        }
        double scale = Math.max(1, Chunks.count(batch.lossMask())) / corpusTokens;
        LossInput pt = input.withBatch(batch.withLossMask(ptMask));
        NDArray sum = null;
        if (kdRatio < 1) {
            NDArray ce = lm.get().compute(pt).sum();
            sum = ce.mul(Scalars.of(ce, (1 - kdRatio) * scale));
        }
        if (kdRatio > 0) {
            NDArray kl = kd.get().compute(pt).sum();
            NDArray part = kl.mul(Scalars.of(kl, kdRatio * scale));
            sum = sum == null ? part : sum.add(part);
        }
        return new LossValue(sum, Math.round(corpusTokens));
    }

    /** Builds {@link PretrainLoss} over the registered {@code kd.sft} and {@code kd.forward-kl}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "MiniLLM pre-training term on the sampler's corpus rows: (1 - kd-ratio) LM loss + kd-ratio forward KL";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            int chunk = p.integer("chunk-size", 1);
            double ratio = p.probability("kd-ratio");
            RegisteredLoss lm = new RegisteredLoss(context, "kd.sft", ConfigFactory.parseMap(
                    Map.of("label-smoothing", 0.0, "chunk-size", chunk)), KEY);
            RegisteredLoss kd = new RegisteredLoss(context, "kd.forward-kl", ConfigFactory.parseMap(
                    Map.of("temperature", 1.0, "chunk-size", chunk)), KEY);
            return new PretrainLoss(lm, kd, ratio);
        }
    }
}
