package org.distillery.kdcore.internal;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossContext;
import org.distillery.kit.loss.Scalars;

/**
 * {@code kd.jsd}: generalised Jensen-Shannon divergence JSD(β) between teacher and student.
 *
 * <p>Agarwal et al., "On-Policy Distillation of Language Models: Learning from Self-Generated
 * Mistakes" (GKD), arXiv 2306.13649, Eq. (1); implemented as in TRL's
 * {@code generalized_jsd_loss}.
 *
 * <p>Formula, at each counted position with p = softmax(z_T/τ), q = softmax(z_S/τ) and the
 * mixture m = β·p + (1−β)·q (computed in log space):
 * <pre>  L = τ² · [ β · KL(p ‖ m) + (1−β) · KL(q ‖ m) ]</pre>
 * The limits are special-cased, as in TRL: β = 0 is exactly forward KL(p ‖ q) and β = 1 is
 * exactly reverse KL(q ‖ p) (the formula itself would vanish at both ends).
 *
 * <p>Defaults: {@code beta = 0.5} (TRL), {@code temperature = 1.0}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = "kd.jsd", weight = 1.0, params { beta = 0.5 } } ]
 * </pre>
 */
final class JsdLoss extends DivergenceLoss {

    /** Registry key. */
    static final String KEY = "kd.jsd";

    private final double beta;

    JsdLoss(double beta, double temperature, int chunkSize) {
        super(KEY, temperature, chunkSize);
        this.beta = beta;
    }

    @Override
    NDArray divergence(NDArray logP, NDArray logQ, NDArray keep) {
        if (beta == 0.0) {
            return ForwardKlLoss.forwardKl(logP, logQ, keep);
        }
        if (beta == 1.0) {
            return ReverseKlLoss.reverseKl(logP, logQ, keep);
        }
        NDArray logM = logAddExp(logP.add((float) Math.log(beta)), logQ.add((float) Math.log1p(-beta)));
        NDArray teacherTerm = logP.exp().mul(logP.sub(logM));
        teacherTerm = teacherTerm.mul(Scalars.of(teacherTerm, beta));
        NDArray studentTerm = logQ.exp().mul(logQ.sub(logM));
        studentTerm = studentTerm.mul(Scalars.of(studentTerm, 1 - beta));
        return sumKept(teacherTerm.add(studentTerm), keep);
    }

    /** Builds {@link JsdLoss} from {@code beta}, {@code temperature} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "generalised JSD(beta) per token; beta=0 forward KL, beta=1 reverse KL (GKD)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new JsdLoss(p.probability("beta"), p.positive("temperature"),
                    p.integer("chunk-size", 1));
        }
    }
}
