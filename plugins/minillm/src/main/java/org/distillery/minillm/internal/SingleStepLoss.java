package org.distillery.minillm.internal;

import java.util.EnumSet;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.loss.LossContext;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.RegisteredLoss;

/**
 * {@code minillm.single-step}: the single-step part of MiniLLM's gradient, (∇L)_Single =
 * E Σ_t ∇ KL(q_θ(·|y_&lt;t, x) ‖ p(·|y_&lt;t, x)), computed exactly over the vocabulary at every
 * rollout response token (Gu et al., arXiv 2306.08543, single-step decomposition).
 *
 * <p>It composes the registered {@code kd.reverse-kl} (kd-core) at temperature 1 over the
 * rollout tokens. The reference code (microsoft/LMOps {@code minillm/losses.py}) takes the
 * plain token mean; the paper's equation weights each token by the importance weight w_t of
 * the teacher-mixed sampling. {@code importance-weight = true} follows the paper: the loss mask
 * is multiplied by w_t (a constant of the rollout, no gradient through it).
 * <pre>
 *   L = Σ_t m_t · Σ_v q_θ(v) (log q_θ(v) − log p(v)),   m_t = 1 (code) or w_t (paper)
 * </pre>
 *
 * <p>Defaults: {@code importance-weight = false}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = minillm.single-step, weight = 1.0, params { importance-weight = false } } ]
 * </pre>
 */
final class SingleStepLoss implements Loss {

    /** Registry key. */
    static final String KEY = "minillm.single-step";
    /** The composed loss. */
    static final String REVERSE_KL = "kd.reverse-kl";

    private final RegisteredLoss reverseKl;
    private final boolean importanceWeight;

    SingleStepLoss(RegisteredLoss reverseKl, boolean importanceWeight) {
        this.reverseKl = reverseKl;
        this.importanceWeight = importanceWeight;
    }

    @Override
    public Set<Need> needs() {
        return EnumSet.of(Need.TEACHER_LOGITS);
    }

    @Override
    public LossValue compute(LossInput input) {
        TokenBatch batch = input.batch();
        NDArray mask = batch.lossMask();
        TokenBatch weighted = importanceWeight ? batch.withLossMask(mask.mul(batch.extra(Extras.IMPORTANCE))) : batch;
        LossValue v = reverseKl.get().compute(input.withBatch(weighted));
        return new LossValue(v.sum(), Chunks.count(mask));
    }

    /** Builds {@link SingleStepLoss} over the registered {@code kd.reverse-kl}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "MiniLLM single-step term: exact reverse KL at each rollout token (kd.reverse-kl), optionally "
                    + "importance-weighted";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            Config inner = ConfigFactory.parseMap(Map.of("temperature", 1.0, "chunk-size", p.integer("chunk-size", 1)));
            return new SingleStepLoss(new RegisteredLoss(context, REVERSE_KL, inner, KEY), p.bool("importance-weight"));
        }
    }
}
