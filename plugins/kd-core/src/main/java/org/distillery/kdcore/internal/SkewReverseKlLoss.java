package org.distillery.kdcore.internal;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossContext;

/**
 * {@code kd.skew-rkl}: skew reverse KL divergence SRKL(α) of DistiLLM.
 *
 * <p>Ko et al., "DistiLLM: Towards Streamlined Distillation for Large Language Models",
 * arXiv 2402.03898 (ICML 2024); code {@code distillm/losses.py}.
 *
 * <p>Formula, at each counted position with p = softmax(z_T/τ), q = softmax(z_S/τ):
 * <pre>  L = τ² · KL(q ‖ (1−α)·p + α·q) = τ² · Σ_v q(v) · (log q(v) − log((1−α)·p(v) + α·q(v)))</pre>
 * As in the authors' code; gradients flow through q in the weight and inside the mixture.
 * α = 0 is exactly reverse KL. The mixture is computed in log space.
 *
 * <p>Defaults: {@code alpha = 0.1} (DistiLLM {@code --skew-alpha}), {@code temperature = 1.0},
 * {@code chunk-size = 64}; {@code alpha} must be in [0, 1).
 * <pre>
 * loss = [ { key = "kd.skew-rkl", weight = 1.0, params { alpha = 0.1 } } ]
 * </pre>
 */
final class SkewReverseKlLoss extends DivergenceLoss {

    /** Registry key. */
    static final String KEY = "kd.skew-rkl";

    private final double alpha;

    SkewReverseKlLoss(double alpha, double temperature, int chunkSize) {
        super(KEY, temperature, chunkSize);
        this.alpha = alpha;
    }

    @Override
    NDArray divergence(NDArray logP, NDArray logQ, NDArray keep) {
        if (alpha == 0.0) {
            return ReverseKlLoss.reverseKl(logP, logQ, keep);
        }
        NDArray logMix = logAddExp(logP.add((float) Math.log1p(-alpha)), logQ.add((float) Math.log(alpha)));
        return sumKept(logQ.exp().mul(logQ.sub(logMix)), keep);
    }

    /** Builds {@link SkewReverseKlLoss} from {@code alpha}, {@code temperature} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "skew reverse KL(q || (1-alpha) p + alpha q) per token (DistiLLM)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new SkewReverseKlLoss(p.fraction("alpha"),
                    p.positive("temperature"), p.integer("chunk-size", 1));
        }
    }
}
