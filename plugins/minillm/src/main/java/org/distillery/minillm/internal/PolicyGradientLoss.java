package org.distillery.minillm.internal;

import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Ppo;

/**
 * {@code minillm.pg}: the long-term part of MiniLLM's reverse-KL policy gradient as a PPO
 * clipped surrogate (Gu et al., "MiniLLM: Knowledge Distillation of Large Language Models",
 * arXiv 2306.08543, eq. for (∇L)_Long with teacher-mixed sampling and clipping; reference code
 * microsoft/LMOps {@code minillm/losses.py _pg_loss}).
 *
 * <p>Per rollout response token, with the values {@code minillm.rollout} stored:
 * <pre>
 *   ρ_t   = exp(log q_θ(y_t) − log q_old(y_t)) · w_t        (= q_θ / p̃)
 *   L_t   = max(−A_t · ρ_t, −A_t · clip(ρ_t, 1−ε, 1+ε))
 * </pre>
 * summed over the loss mask (rollout response tokens); the trainer divides by their number.
 * Needs the student's logits only; the batch must come from {@code minillm.rollout}.
 *
 * <p>Defaults: {@code clip-epsilon = 0.2}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = minillm.pg, weight = 1.0, params { clip-epsilon = 0.2 } } ]
 * </pre>
 */
final class PolicyGradientLoss implements Loss {

    /** Registry key. */
    static final String KEY = "minillm.pg";

    private final double epsilon;
    private final int chunkSize;

    PolicyGradientLoss(double epsilon, int chunkSize) {
        this.epsilon = epsilon;
        this.chunkSize = chunkSize;
    }

    @Override
    public Set<Need> needs() {
        return Set.of();
    }

    @Override
    public LossValue compute(LossInput input) {
        TokenBatch batch = input.batch();
        Logits logits = input.logits();
        NDArray old = batch.extra(Extras.OLD_LOGPROBS);
        NDArray importance = batch.extra(Extras.IMPORTANCE);
        NDArray advantages = batch.extra(Extras.ADVANTAGES);
        NDArray mask = batch.lossMask();
        NDArray sum = Chunks.sum(logits, chunkSize, input, (chunk, at, chunkLogits) -> {
            NDArray logQ = Chunks.targetLogProbs(chunkLogits, batch.targets(), at, chunk);
            NDArray ratio = logQ.sub(Chunks.slice(old, at, chunk)).exp().mul(Chunks.slice(importance, at, chunk));
            return Ppo.clippedSurrogate(ratio, Chunks.slice(advantages, at, chunk), epsilon)
                    .mul(Chunks.slice(mask, at, chunk)).sum();
        });
        return new LossValue(sum.toType(DataType.FLOAT32, false), Chunks.count(mask));
    }

    /** Builds {@link PolicyGradientLoss} from {@code clip-epsilon} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "MiniLLM long-term policy gradient: PPO clipped surrogate with importance weights and advantages "
                    + "(needs sampler minillm.rollout)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new PolicyGradientLoss(p.probability("clip-epsilon"), p.integer("chunk-size", 1));
        }
    }
}
