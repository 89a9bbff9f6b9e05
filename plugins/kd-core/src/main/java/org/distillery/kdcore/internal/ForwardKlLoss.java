package org.distillery.kdcore.internal;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossContext;

/**
 * {@code kd.forward-kl}: word-level knowledge distillation with the forward KL divergence.
 *
 * <p>Hinton, Vinyals, Dean, "Distilling the Knowledge in a Neural Network", arXiv 1503.02531
 * (2015); applied per token to language models by Kim and Rush, "Sequence-Level Knowledge
 * Distillation", arXiv 1606.07947 (2016, "word-level KD").
 *
 * <p>Formula, at each counted position with p = softmax(z_T/τ), q = softmax(z_S/τ):
 * <pre>  L = τ² · Σ_v p(v) · (log p(v) − log q(v))</pre>
 * Mass-covering: the student is pushed to cover every token the teacher gives mass to.
 * Works with full teacher logits or a cached top-k teacher (see {@link DivergenceLoss}).
 *
 * <p>Defaults: {@code temperature = 1.0}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = "kd.forward-kl", weight = 1.0, params { temperature = 2.0 } } ]
 * </pre>
 */
final class ForwardKlLoss extends DivergenceLoss {

    /** Registry key. */
    static final String KEY = "kd.forward-kl";

    ForwardKlLoss(double temperature, int chunkSize) {
        super(KEY, temperature, chunkSize);
    }

    @Override
    NDArray divergence(NDArray logP, NDArray logQ, NDArray keep) {
        return forwardKl(logP, logQ, keep);
    }

    /** Σ p (log p − log q) over the last axis; shared with the limiting cases of JSD and skew KL. */
    static NDArray forwardKl(NDArray logP, NDArray logQ, NDArray keep) {
        return sumKept(logP.exp().mul(logP.sub(logQ)), keep);
    }

    /** Builds {@link ForwardKlLoss} from {@code temperature} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "forward KL(teacher || student) per token, temperature-scaled (Hinton et al. 2015)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new ForwardKlLoss(p.positive("temperature"), p.integer("chunk-size", 1));
        }
    }
}
