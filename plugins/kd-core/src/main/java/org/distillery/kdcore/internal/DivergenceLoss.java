package org.distillery.kdcore.internal;

import java.util.EnumSet;
import java.util.Set;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Scalars;

/**
 * Base of the token-level divergences between the teacher's distribution p and the
 * student's q_θ at each counted position.
 *
 * <p>How to write one:
 * <ol>
 *   <li>Extend this class and implement {@link #divergence}: given sanitised log-probabilities
 *       over the last axis, return the per-position divergence summed over that axis.</li>
 *   <li>Use only element-wise operations and sums over the last axis, so the same code serves
 *       both the full vocabulary and the cached top-k "bins" (k entries plus the rest).</li>
 *   <li>Multiply the element-wise terms by {@code keep} (when not {@code null}) before summing
 *       ({@link #sumKept}): it is 0 at entries whose logit was ±inf, whose log-probabilities
 *       were raised to the finite {@link #FINITE_FLOOR}.</li>
 *   <li>Add a nested {@code Factory}, a {@code reference.conf} block with every parameter's
 *       default, and a binding in {@link KdCoreModule}.</li>
 * </ol>
 *
 * <p>What this class does around it:
 * <ul>
 *   <li><b>Temperature.</b> Student and teacher logits are divided by τ; the sum is multiplied
 *       by τ² (Hinton et al. 2015) so gradient magnitudes stay comparable across τ. At τ = 1
 *       both are no-ops. The factor applies to every divergence here, TVD included.</li>
 *   <li><b>Precision.</b> Log-softmax in fp32 whatever the input dtype.</li>
 *   <li><b>Masks.</b> Vocabulary entries where the student's or the teacher's logit is ±inf
 *       (padding, filtered logits) count as 0 (METHODS.md, general implementation rule).
 *       Positions are weighted by {@code batch.lossMask()}; the result is the sum over
 *       counted positions and {@code count} is the number of counted tokens.</li>
 *   <li><b>Chunks.</b> The sequence is processed {@code chunk-size} positions at a time in a
 *       sub-manager each (see {@link Chunks}); chunked and unchunked results are equal up
 *       to float summation order.</li>
 *   <li><b>Fused output layer.</b> Student and teacher logits are read through their
 *       {@link Logits} views, so when the trainer leaves them fused (final hidden states and
 *       output head) each chunk's logits are computed from the hidden states and neither
 *       model's full logits nor the student's logit gradient ever exist.</li>
 *   <li><b>Cached top-k teacher.</b> When the teacher gives top-k ids, log-probabilities and
 *       the log of the rest mass instead of logits, both distributions are reduced to k + 1
 *       bins: the teacher's k entries plus its rest mass, and the student's probabilities of
 *       the same k ids plus its rest mass 1 − Σ_k q (clamped at {@value #MIN_REST_MASS}).
 *       The divergence is taken over these bins. This is exact for the k entries; the
 *       rest is treated as one token, which underestimates any divergence the teacher's and
 *       the student's tail distributions would add. With τ ≠ 1 the teacher bins are tempered
 *       as log-probabilities ÷ τ and renormalised over the k + 1 bins (the rest bin is tempered
 *       as if it were one token); at τ = 1 renormalisation only absorbs rounding in the cache.</li>
 * </ul>
 */
abstract class DivergenceLoss implements Loss {

    /** Floor of the student's rest mass on the top-k path, so that its log stays finite. */
    static final float MIN_REST_MASS = 1e-30f;

    /**
     * What -inf log-probabilities are raised to before the element-wise terms: finite, so
     * products stay finite, and far below any real log-probability; such entries are then
     * weighted by 0. Its gradient w.r.t. the clamped entry is 0.
     */
    static final float FINITE_FLOOR = -1e30f;

    private final String key;
    private final double temperature;
    private final int chunkSize;

    /**
     * Creates the loss.
     *
     * @param key the registry key, for messages
     * @param temperature τ &gt; 0
     * @param chunkSize positions per chunk, &ge; 1
     */
    DivergenceLoss(String key, double temperature, int chunkSize) {
        this.key = key;
        this.temperature = temperature;
        this.chunkSize = chunkSize;
    }

    /**
     * The divergence at each position, summed over the last axis.
     *
     * @param logP teacher log-probabilities [batch, chunk, n], finite
     * @param logQ student log-probabilities [batch, chunk, n], finite
     * @param keep 1 for entries that count and 0 for ±inf entries, or {@code null} if all count
     * @return [batch, chunk]
     */
    abstract NDArray divergence(NDArray logP, NDArray logQ, NDArray keep);

    @Override
    public Set<Need> needs() {
        return EnumSet.of(Need.TEACHER_LOGITS);
    }

    @Override
    public LossValue compute(LossInput input) {
        TeacherOutput teacher = input.teacher();
        if (teacher == null) {
            throw new IllegalArgumentException(key + " needs the teacher's logits or cached top-k log-probabilities,"
                    + " but the step has no teacher output");
        }
        Logits student = input.logits();
        Shape shape = student.shape();
        boolean topK = !teacher.hasLogits();
        Logits teacherLogits = teacher.logitsView();
        if (topK) {
            if (teacher.topIds() == null || teacher.topLogProbs() == null || teacher.restLogMass() == null) {
                throw new IllegalArgumentException(key + " needs the teacher's full logits, or its top-k ids, "
                        + "log-probabilities and rest log-mass; the teacher output has neither");
            }
        } else if (!teacherLogits.shape().equals(shape)) {
            throw new IllegalArgumentException(key + ": teacher logits " + teacherLogits.shape()
                    + " do not match student logits " + shape + " (same tokenizer and vocabulary required)");
        }
        NDArray mask = input.batch().lossMask();
        NDArray sum = Chunks.sum(student, chunkSize, input, (chunk, positions, s) -> {
            NDArray[] pq = topK ? topKBins(teacher, s, positions, chunk) : fullVocab(teacherLogits, s, positions, chunk);
            NDArray perPosition = sanitisedDivergence(pq[0], pq[1], pq[2]);
            return perPosition.mul(Chunks.slice(mask, positions, chunk)).sum();
        });
        if (temperature != 1.0) {
            sum = sum.mul(Scalars.of(sum, temperature * temperature));
        }
        return new LossValue(sum, Chunks.count(mask));
    }

    /** Teacher and student log-probabilities over the vocabulary, and where a logit is ±inf. */
    private NDArray[] fullVocab(Logits teacher, NDArray s, NDIndex positions, NDManager chunk) {
        NDArray t = Chunks.slice(teacher, positions, chunk);
        NDArray infinite = s.isInfinite().logicalOr(t.isInfinite());
        return new NDArray[] {tempered(t).logSoftmax(-1), tempered(s).logSoftmax(-1), infinite};
    }

    /** Teacher and student log-probabilities over the k top ids plus the rest, and where one is -inf. */
    private NDArray[] topKBins(TeacherOutput teacher, NDArray s, NDIndex positions, NDManager chunk) {
        NDArray ids = Chunks.sliceIds(teacher.topIds(), positions, chunk);
        NDArray teacherBins = Chunks.slice(teacher.topLogProbs(), positions, chunk)
                .concat(Chunks.slice(teacher.restLogMass(), positions, chunk).expandDims(-1), -1);
        NDArray logP = tempered(teacherBins).logSoftmax(-1);
        NDArray logQTop = tempered(s).logSoftmax(-1).gather(ids, -1);
        NDArray logQRest = logQTop.exp().sum(new int[] {-1}, true).neg().add(1);
        logQRest = logQRest.maximum(Scalars.of(logQRest, MIN_REST_MASS)).log();
        NDArray logQ = logQTop.concat(logQRest, -1);
        return new NDArray[] {logP, logQ, logP.isInfinite().logicalOr(logQ.isInfinite())};
    }

    private NDArray tempered(NDArray logits) {
        return temperature == 1.0 ? logits : logits.div(Scalars.of(logits, temperature));
    }

    /**
     * Raises -inf log-probabilities to {@link #FINITE_FLOOR} before any product, so that neither
     * the value nor the gradient meets 0·inf, and passes the mask of entries that count.
     */
    private NDArray sanitisedDivergence(NDArray logP, NDArray logQ, NDArray infinite) {
        if (!infinite.any().getBoolean()) {
            return divergence(logP, logQ, null);
        }
        NDArray keep = infinite.logicalNot().toType(logP.getDataType(), false);
        return divergence(logP.maximum(Scalars.of(logP, FINITE_FLOOR)), logQ.maximum(Scalars.of(logQ, FINITE_FLOOR)), keep);
    }

    /** Sums element-wise terms over the last axis, dropping entries where {@code keep} is 0. */
    static NDArray sumKept(NDArray terms, NDArray keep) {
        return (keep == null ? terms : terms.mul(keep)).sum(new int[] {-1});
    }

    /** log(e^a + e^b), stable for large negative arguments. */
    static NDArray logAddExp(NDArray a, NDArray b) {
        return a.maximum(b).add(a.sub(b).abs().neg().exp().add(1).log());
    }
}
