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
import org.distillery.kit.loss.Scalars;

/**
 * {@code rl.kl}: a sampled estimate of KL(π_θ ‖ π_ref) on the sampled response tokens (METHODS §9 and
 * A9; Schulman's estimators), with ℓ_t = log π_θ(o_t) − log π_ref(o_t):
 * <pre>
 *   k1 = ℓ          gradient ∇log π_θ                 (zero in expectation as a loss: use it in the reward)
 *   k2 = ℓ² / 2     gradient ℓ ∇log π_θ               (on-policy: the exact reverse-KL gradient)
 *   k3 = e^{−ℓ} − 1 + ℓ    gradient (1 − e^{−ℓ}) ∇log π_θ   (a biased approximation)
 * </pre>
 * With {@code reference = teacher} it is KDRL's joint-loss KL to the teacher: π_ref = the teacher
 * ({@code teacher-logprobs}), each token weighted by {@code teacher-kl-weight} (β and the reward-guided
 * mask of {@code rl.grpo}'s {@code teacher-kl}); the term's weight stays 1. With
 * {@code reference = initial} it is GRPO's KL to the reference policy ({@code reference-logprobs},
 * {@code rl.grpo} with {@code reference = initial}); the term's weight is its coefficient (DeepSeekMath: 0.04).
 *
 * <pre>
 * loss = [ { key = rl.grpo }, { key = rl.kl, params { reference = teacher, estimator = k2 } } ]
 * </pre>
 */
final class KlLoss implements Loss {

    /** Registry key. */
    static final String KEY = "rl.kl";

    /** The estimators. */
    enum Estimator {
        /** ℓ. */
        K1,
        /** ℓ²/2. */
        K2,
        /** e^{−ℓ} − 1 + ℓ. */
        K3
    }

    private final boolean teacher;
    private final Estimator estimator;
    private final int chunkSize;
    private final String path;

    KlLoss(boolean teacher, Estimator estimator, int chunkSize, String path) {
        this.teacher = teacher;
        this.estimator = estimator;
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
        NDArray reference = extra(batch, teacher ? PolicySampler.TEACHER_LOGPROBS : GrpoSampler.REFERENCE_LOGPROBS);
        NDArray weights = teacher ? extra(batch, GrpoSampler.TEACHER_KL_WEIGHT).mul(batch.lossMask()) : batch.lossMask();
        Logits logits = input.logits();
        NDArray sum = Chunks.sum(logits, chunkSize, input, (chunk, at, chunkLogits) -> {
            NDArray logQ = Chunks.targetLogProbs(chunkLogits, batch.targets(), at, chunk);
            NDArray l = logQ.sub(Chunks.slice(reference, at, chunk));
            NDArray k = switch (estimator) {
                case K1 -> l;
                case K2 -> l.mul(l).mul(Scalars.of(l, 0.5));
                case K3 -> l.neg().exp().sub(Scalars.of(l, 1)).add(l);
            };
            return k.mul(Chunks.slice(weights, at, chunk)).sum();
        });
        return new LossValue(sum.toType(DataType.FLOAT32, false), Chunks.count(batch.lossMask()));
    }

    private NDArray extra(TokenBatch batch, String name) {
        if (!batch.extras().containsKey(name)) {
            throw new InvalidConfigException(path.isEmpty() ? "train.loss" : path, KEY + " with reference = "
                    + (teacher ? "teacher" : "initial") + " reads the batch's '" + name + "', which the sampler did "
                    + "not attach", teacher ? "reference = teacher" : "reference = initial",
                    "sampler rl.grpo with " + (teacher ? "teacher-kl { beta > 0, in-reward = false }" : "reference = initial"));
        }
        return batch.extra(name);
    }

    /** Builds {@link KlLoss}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "sampled KL estimator (k1, k2, k3) to the teacher (KDRL) or to the starting policy (GRPO)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new KlLoss(p.choice("reference", "teacher", "initial").equals("teacher"),
                    p.choice("estimator", Estimator.class), p.integer("chunk-size", 1), context.paramsPath());
        }
    }
}
