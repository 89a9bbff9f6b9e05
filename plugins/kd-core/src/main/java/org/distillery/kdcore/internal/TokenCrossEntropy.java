package org.distillery.kdcore.internal;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Scalars;

/**
 * Chunked token cross-entropy on the batch targets, shared by {@link SftLoss} and
 * {@link SeqKdLoss}.
 *
 * <p>At each counted position with q = softmax(z_S) (fp32) and target y:
 * <pre>  L = (1−ε) · (−log q(y)) + ε · mean_v(−log q(v))</pre>
 * where the mean runs over the vocabulary entries whose logit is finite (so ε spreads the
 * smoothing mass uniformly over the allowed tokens; with no ±inf logits this is PyTorch's
 * {@code label_smoothing}). Targets at positions outside the loss mask may be anything
 * (e.g. -100); they are clamped into the vocabulary and then weighted by 0.
 */
final class TokenCrossEntropy {

    private final double labelSmoothing;
    private final int chunkSize;

    TokenCrossEntropy(double labelSmoothing, int chunkSize) {
        this.labelSmoothing = labelSmoothing;
        this.chunkSize = chunkSize;
    }

    /** Sum over counted tokens and their number. */
    LossValue compute(LossInput input) {
        Logits logits = input.logits();
        long vocab = logits.vocab();
        NDArray targets = input.batch().targets();
        NDArray mask = input.batch().lossMask();
        NDArray sum = Chunks.sum(logits, chunkSize, input, (chunk, positions, s) -> {
            NDArray logQ = s.logSoftmax(-1);
            NDArray ids = Chunks.sliceIds(targets, positions, chunk).clip(0, vocab - 1).expandDims(-1);
            NDArray perPosition = logQ.gather(ids, -1).squeeze(-1).neg();
            if (labelSmoothing > 0) {
                NDArray smooth = meanNegLogProb(logQ);
                perPosition = perPosition.mul(Scalars.of(perPosition, 1 - labelSmoothing))
                        .add(smooth.mul(Scalars.of(smooth, labelSmoothing)));
            }
            return perPosition.mul(Chunks.slice(mask, positions, chunk)).sum();
        });
        return new LossValue(sum, Chunks.count(mask));
    }

    /** mean over finite entries of −log q, per position. */
    private static NDArray meanNegLogProb(NDArray logQ) {
        NDArray infinite = logQ.isInfinite();
        if (!infinite.any().getBoolean()) {
            return logQ.mean(new int[] {-1}).neg();
        }
        NDArray keep = infinite.logicalNot().toType(logQ.getDataType(), false);
        NDArray finite = logQ.maximum(Scalars.of(logQ, DivergenceLoss.FINITE_FLOOR)).mul(keep);
        return finite.sum(new int[] {-1}).div(keep.sum(new int[] {-1})).neg();
    }
}
