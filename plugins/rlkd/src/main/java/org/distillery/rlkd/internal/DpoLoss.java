package org.distillery.rlkd.internal;

import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

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

/**
 * {@code dpo.sigmoid}: Direct Preference Optimization with the sigmoid loss (Rafailov et al., arXiv
 * 2305.18290; TRL's {@code loss_type = sigmoid}; METHODS §10), Zephyr's dDPO (Tunstall et al.,
 * arXiv 2310.16944) when the reference is the dSFT model:
 * <pre>
 *   s = Σ_t log π_θ(y_t | x, y_&lt;t)  over the response,   r = the same under π_ref
 *   d = β [(s_w − r_w) − (s_l − r_l)]
 *   L = −log σ(d) = softplus(−d),   ∂L/∂s_w = −β σ(−d),   ∂L/∂s_l = β σ(−d)
 * </pre>
 * a mean over the pairs of the batch. The batch comes from {@code dpo.pairs}: rows 2i (chosen) and
 * 2i+1 (rejected), their reference sums r precomputed once per batch ({@code reference-logprobs}).
 *
 * <p>How it is computed: a first pass over chunks of positions reads s without gradients; the loss
 * and its per-row gradients g = ∂L/∂s follow in closed form; a second, chunked pass contributes the
 * surrogate Σ_rows g·s, which has exactly L's gradient, so no [batch, seq, vocab] log-probabilities are
 * held at once ({@link Chunks}). The trainer divides every term by the batch's response tokens; the
 * returned sum is scaled by tokens / pairs so that what remains is the mean over pairs.
 *
 * <p>Defaults: {@code beta = 0.1} (TRL; Zephyr's report), {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = dpo.sigmoid, params { beta = 0.1 } } ]
 * sampler { key = dpo.pairs, params { file = "stage:aif", reference = initial } }
 * </pre>
 */
final class DpoLoss implements Loss {

    /** Registry key. */
    static final String KEY = "dpo.sigmoid";

    private final double beta;
    private final int chunkSize;
    private final String path;

    DpoLoss(double beta, int chunkSize, String path) {
        this.beta = beta;
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
        NDArray mask = batch.lossMask();
        int rows = (int) logits.batch();
        if (rows % 2 != 0 || !batch.extras().containsKey(PairSampler.REFERENCE_LOGPROBS)) {
            throw new InvalidConfigException(path.isEmpty() ? "train.loss" : path, KEY + " needs batches of (chosen, "
                    + "rejected) row pairs with the reference's log-probabilities", KEY, "sampler dpo.pairs");
        }
        float[] reference = batch.extra(PairSampler.REFERENCE_LOGPROBS).toFloatArray();
        float[] policy = rowSums(logits, batch, chunkSize, input.manager());
        int pairs = rows / 2;
        float[] grad = new float[rows];
        double loss = 0;
        for (int p = 0; p < pairs; p++) {
            int w = 2 * p;
            int l = 2 * p + 1;
            double d = beta * ((policy[w] - reference[w]) - (policy[l] - reference[l]));
            loss += softplus(-d);
            double sig = 1 / (1 + Math.exp(d));
            grad[w] = (float) (-beta * sig);
            grad[l] = (float) (beta * sig);
        }
        double scale = Math.max(1, Chunks.count(mask)) / (double) pairs;
        for (int i = 0; i < rows; i++) {
            grad[i] *= (float) scale;
        }
        NDManager m = input.manager();
        NDArray g = m.create(grad, new Shape(rows, 1));
        NDArray surrogate = Chunks.sum(logits, chunkSize, input, (chunk, at, chunkLogits) -> {
            NDArray logp = Chunks.targetLogProbs(chunkLogits, batch.targets(), at, chunk);
            return logp.mul(Chunks.slice(mask, at, chunk)).mul(g).sum();
        });
        NDArray value = m.create((float) (loss * scale));
        NDArray sum = value.add(surrogate.sub(surrogate.stopGradient()));
        return new LossValue(sum.toType(DataType.FLOAT32, false), pairs);
    }

    /** Σ_t mask·log π(target) per row of materialised logits, without gradients. */
    static float[] rowSums(NDArray logits, TokenBatch batch, int chunkSize, NDManager manager) {
        return rowSums(Logits.of(logits), batch, chunkSize, manager);
    }

    /** Σ_t mask·log π(target) per row, without gradients (fused logits computed a chunk at a time). */
    static float[] rowSums(Logits logits, TokenBatch batch, int chunkSize, NDManager manager) {
        long length = logits.length();
        float[] sums = new float[(int) logits.batch()];
        for (long start = 0; start < length; start += chunkSize) {
            try (NDManager chunk = manager.newSubManager()) {
                NDIndex at = new NDIndex(":, {}:{}", start, Math.min(length, start + chunkSize));
                NDArray part = Chunks.slice(logits, at, chunk).stopGradient();
                NDArray logp = Chunks.targetLogProbs(part, batch.targets(), at, chunk);
                float[] s = logp.mul(Chunks.slice(batch.lossMask(), at, chunk)).sum(new int[] {1}).toFloatArray();
                for (int i = 0; i < sums.length; i++) {
                    sums[i] += s[i];
                }
            }
        }
        return sums;
    }

    private static double softplus(double x) {
        return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
    }

    /** Builds {@link DpoLoss}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "DPO sigmoid loss over (chosen, rejected) pairs against a reference (needs sampler dpo.pairs)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new DpoLoss(p.positive("beta"), p.integer("chunk-size", 1), context.paramsPath());
        }
    }
}
