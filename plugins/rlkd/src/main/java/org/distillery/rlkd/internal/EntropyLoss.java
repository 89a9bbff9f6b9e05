package org.distillery.rlkd.internal;

import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;

/**
 * {@code rl.entropy}: the entropy term of a policy gradient (LLMR's code, A8: "+ c·entropy term"):
 * −H(π_θ(·|t)) = Σ_v π_θ(v) log π_θ(v) at each counted token, exact over the vocabulary, so that
 * minimising it with a positive weight c raises the policy's entropy. Works on any batch.
 *
 * <pre>
 * loss = [ { key = rl.grpo }, { key = rl.entropy, weight = 0.01 } ]
 * </pre>
 */
final class EntropyLoss implements Loss {

    /** Registry key. */
    static final String KEY = "rl.entropy";

    private final int chunkSize;

    EntropyLoss(int chunkSize) {
        this.chunkSize = chunkSize;
    }

    @Override
    public Set<Need> needs() {
        return Set.of();
    }

    @Override
    public LossValue compute(LossInput input) {
        NDArray mask = input.batch().lossMask();
        NDArray sum = Chunks.sum(input.logits(), chunkSize, input, (chunk, at, logits) -> {
            NDArray logp = logits.logSoftmax(-1);
            NDArray negEntropy = logp.exp().mul(logp).sum(new int[] {-1});
            return negEntropy.mul(Chunks.slice(mask, at, chunk)).sum();
        });
        return new LossValue(sum.toType(DataType.FLOAT32, false), Chunks.count(mask));
    }

    /** Builds {@link EntropyLoss}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "negative entropy of the policy at each response token (an entropy bonus with a positive weight)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            return new EntropyLoss(Params.of(params, context.paramsPath()).integer("chunk-size", 1));
        }
    }
}
