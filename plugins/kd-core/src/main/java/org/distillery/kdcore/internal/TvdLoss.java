package org.distillery.kdcore.internal;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossContext;
import org.distillery.kit.loss.Scalars;

/**
 * {@code kd.tvd}: total variation distance between teacher and student.
 *
 * <p>Wen et al., "f-Divergence Minimization for Sequence-Level Knowledge Distillation"
 * (f-DISTILL), arXiv 2307.15190 (ACL 2023), applied here per token; also in LLaVA-KD's
 * released {@code distill_loss_utils.py} (METHODS.md §6).
 *
 * <p>Formula, at each counted position with p = softmax(z_T/τ), q = softmax(z_S/τ):
 * <pre>  L = τ² · ½ · Σ_v |p(v) − q(v)|</pre>
 * The τ² factor is kept for uniformity with the other divergences of this bundle (at τ = 1 it
 * is a no-op). Symmetric and bounded by τ².
 *
 * <p>Defaults: {@code temperature = 1.0}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = "kd.tvd", weight = 1.0, params { } } ]
 * </pre>
 */
final class TvdLoss extends DivergenceLoss {

    /** Registry key. */
    static final String KEY = "kd.tvd";

    TvdLoss(double temperature, int chunkSize) {
        super(KEY, temperature, chunkSize);
    }

    @Override
    NDArray divergence(NDArray logP, NDArray logQ, NDArray keep) {
        NDArray diff = logP.exp().sub(logQ.exp()).abs();
        return sumKept(diff.mul(Scalars.of(diff, 0.5)), keep);
    }

    /** Builds {@link TvdLoss} from {@code temperature} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "total variation distance per token, 0.5 * sum |p - q| (f-DISTILL)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new TvdLoss(p.positive("temperature"), p.integer("chunk-size", 1));
        }
    }
}
