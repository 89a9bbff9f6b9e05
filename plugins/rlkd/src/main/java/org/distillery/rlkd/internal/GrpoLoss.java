package org.distillery.rlkd.internal;

import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
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
 * {@code rl.grpo}: the clipped policy-gradient surrogate of GRPO (Shao et al., DeepSeekMath,
 * arXiv 2402.03300) as KDRL writes it (METHODS §9):
 * <pre>
 *   ρ_t = exp(log π_θ(o_t) − log π_old(o_t))
 *   L_t = max(−Â_t ρ_t, −Â_t clip(ρ_t, 1 − ε, 1 + ε))
 * </pre>
 * summed over the response tokens; the trainer divides by the response tokens of the batch, the
 * 1/Σ_i|o_i| of the formula. The values come from the sampler's extras ({@code old-logprobs},
 * {@code advantages}): {@code rl.grpo}'s group-normalised advantages, or {@code rl.llmr}'s reward-to-go,
 * where π_old is the lagged sampling copy and ρ is LLMR's clipped importance weight. Needs the student's
 * logits only.
 *
 * <p>Defaults: {@code clip-epsilon = 0.2} (AReaL's KDRL scripts: 0.4), {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = rl.grpo, params { clip-epsilon = 0.2 } } ]
 * </pre>
 */
final class GrpoLoss implements Loss {

    /** Registry key. */
    static final String KEY = "rl.grpo";

    private final double epsilon;
    private final int chunkSize;
    private final String path;

    GrpoLoss(double epsilon, int chunkSize, String path) {
        this.epsilon = epsilon;
        this.chunkSize = chunkSize;
        this.path = path;
    }

    @Override
    public Set<Need> needs() {
        return Set.of();
    }

    @Override
    public LossValue compute(LossInput input) {
        TokenBatch batch = input.batch();
        Logits logits = input.logits();
        if (!batch.extras().containsKey(PolicySampler.OLD_LOGPROBS)
                || !batch.extras().containsKey(PolicySampler.ADVANTAGES)) {
            throw new InvalidConfigException(path.isEmpty() ? "train.loss" : path, KEY + " reads the rollouts' "
                    + PolicySampler.OLD_LOGPROBS + " and " + PolicySampler.ADVANTAGES + ", which the sampler did not "
                    + "attach", KEY, "sampler rl.grpo or rl.llmr");
        }
        NDArray old = batch.extra(PolicySampler.OLD_LOGPROBS);
        NDArray advantages = batch.extra(PolicySampler.ADVANTAGES);
        NDArray mask = batch.lossMask();
        NDArray sum = Chunks.sum(logits, chunkSize, input, (chunk, at, chunkLogits) -> {
            NDArray logQ = Chunks.targetLogProbs(chunkLogits, batch.targets(), at, chunk);
            NDArray ratio = logQ.sub(Chunks.slice(old, at, chunk)).exp();
            return Ppo.clippedSurrogate(ratio, Chunks.slice(advantages, at, chunk), epsilon)
                    .mul(Chunks.slice(mask, at, chunk)).sum();
        });
        return new LossValue(sum.toType(DataType.FLOAT32, false), Chunks.count(mask));
    }

    /** Builds {@link GrpoLoss}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "GRPO clipped policy-gradient surrogate over the sampler's advantages (needs rl.grpo or rl.llmr)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new GrpoLoss(p.fraction("clip-epsilon"), p.integer("chunk-size", 1), context.paramsPath());
        }
    }
}
