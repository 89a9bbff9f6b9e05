package org.distillery.kdcore.internal;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossContext;

/**
 * {@code kd.skew-kl}: skew KL divergence SKL(α) of DistiLLM.
 *
 * <p>Ko et al., "DistiLLM: Towards Streamlined Distillation for Large Language Models",
 * arXiv 2402.03898 (ICML 2024); code {@code distillm/losses.py}.
 *
 * <p>Formula, at each counted position with p = softmax(z_T/τ), q = softmax(z_S/τ):
 * <pre>  L = τ² · KL(p ‖ α·p + (1−α)·q) = τ² · Σ_v p(v) · (log p(v) − log(α·p(v) + (1−α)·q(v)))</pre>
 * The authors' code drops the teacher-entropy constant Σ p log p (it returns the cross-entropy
 * −Σ p log mix); the gradient is the same, and keeping it makes the loss 0 when q = p, like
 * the other divergences. Gradients flow through q inside the mixture. α = 0 is exactly
 * forward KL. The mixture is computed in log space.
 *
 * <p>Defaults: {@code alpha = 0.1} (DistiLLM {@code --skew-alpha}), {@code temperature = 1.0},
 * {@code chunk-size = 64}; {@code alpha} must be in [0, 1).
 * <pre>
 * loss = [ { key = "kd.skew-kl", weight = 1.0, params { alpha = 0.1 } } ]
 * </pre>
 */
final class SkewKlLoss extends DivergenceLoss {

    /** Registry key. */
    static final String KEY = "kd.skew-kl";

    private final double alpha;

    SkewKlLoss(double alpha, double temperature, int chunkSize) {
        super(KEY, temperature, chunkSize);
        this.alpha = alpha;
    }

    @Override
    NDArray divergence(NDArray logP, NDArray logQ, NDArray keep) {
        if (alpha == 0.0) {
            return ForwardKlLoss.forwardKl(logP, logQ, keep);
        }
        NDArray logMix = logAddExp(logP.add((float) Math.log(alpha)), logQ.add((float) Math.log1p(-alpha)));
        return sumKept(logP.exp().mul(logP.sub(logMix)), keep);
    }

    /** Builds {@link SkewKlLoss} from {@code alpha}, {@code temperature} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "skew KL(p || alpha p + (1-alpha) q) per token (DistiLLM)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new SkewKlLoss(p.fraction("alpha"), p.positive("temperature"),
                    p.integer("chunk-size", 1));
        }
    }
}
