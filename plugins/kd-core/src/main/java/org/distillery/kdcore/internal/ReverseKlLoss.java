package org.distillery.kdcore.internal;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossContext;

/**
 * {@code kd.reverse-kl}: token-level reverse KL divergence, on whatever sequences the sampler
 * gives (fixed data or student samples).
 *
 * <p>Gu et al., "MiniLLM: Knowledge Distillation of Large Language Models", arXiv 2306.08543
 * (ICLR 2024) motivates reverse KL for generative LMs (mode seeking); the token-level form
 * used here is the β = 1 case of GKD (Agarwal et al., arXiv 2306.13649) and the reverse-KL
 * baseline of DistiLLM (arXiv 2402.03898). MiniLLM's sequence-level policy gradient lives in
 * the {@code minillm} bundle.
 *
 * <p>Formula, at each counted position with p = softmax(z_T/τ), q = softmax(z_S/τ):
 * <pre>  L = τ² · Σ_v q(v) · (log q(v) − log p(v))</pre>
 *
 * <p>Defaults: {@code temperature = 1.0}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = "kd.reverse-kl", weight = 1.0, params { temperature = 1.0, chunk-size = 32 } } ]
 * </pre>
 */
final class ReverseKlLoss extends DivergenceLoss {

    /** Registry key. */
    static final String KEY = "kd.reverse-kl";

    ReverseKlLoss(double temperature, int chunkSize) {
        super(KEY, temperature, chunkSize);
    }

    @Override
    NDArray divergence(NDArray logP, NDArray logQ, NDArray keep) {
        return reverseKl(logP, logQ, keep);
    }

    /** Σ q (log q − log p) over the last axis; shared with the limiting cases of JSD and skew RKL. */
    static NDArray reverseKl(NDArray logP, NDArray logQ, NDArray keep) {
        return sumKept(logQ.exp().mul(logQ.sub(logP)), keep);
    }

    /** Builds {@link ReverseKlLoss} from {@code temperature} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "reverse KL(student || teacher) per token, temperature-scaled (mode seeking, MiniLLM/GKD)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new ReverseKlLoss(p.positive("temperature"), p.integer("chunk-size", 1));
        }
    }
}
