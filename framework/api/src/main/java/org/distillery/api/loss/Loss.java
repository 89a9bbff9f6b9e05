package org.distillery.api.loss;

import java.util.List;
import java.util.Set;

import ai.djl.ndarray.NDArray;

/**
 * A training objective over one micro-batch. It returns a sum over the tokens it counts and
 * that count, so the trainer can normalise by the loss tokens of the whole accumulated batch
 * rather than per micro-batch.
 */
public interface Loss {

    /** What the loss needs computed before it is called. */
    enum Need {
        /** Teacher logits (or the cached top-k) at every position. */
        TEACHER_LOGITS,
        /** Student hidden states of every layer. */
        STUDENT_HIDDEN,
        /** Teacher hidden states of every layer. */
        TEACHER_HIDDEN
    }

    /** Inputs this loss needs; the trainer skips the teacher forward when none needs it. */
    Set<Need> needs();

    /** Computes the loss on the step's manager (the input's arrays belong to it). */
    LossValue compute(LossInput input);

    /** Learned parameters of the loss itself (e.g. hidden-state projections), trained with the student. */
    default List<NDArray> parameters() {
        return List.of();
    }
}
