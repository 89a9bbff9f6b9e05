package org.distillery.api.model;

import ai.djl.ndarray.NDArray;

/**
 * Builds the distribution the next token is drawn from, given both models' logits.
 * MiniLLM's teacher-mixed sampling returns {@code alpha * p + (1 - alpha) * q}.
 */
public interface NextTokenHook {

    /**
     * Returns probabilities [batch, vocab] to sample from.
     *
     * @param step index of the token being generated
     * @param studentLogits [batch, vocab] after temperature, top-k and top-p filtering
     * @param teacherLogits [batch, vocab] of the teacher at the same prefix, same filtering
     */
    NDArray distribution(int step, NDArray studentLogits, NDArray teacherLogits);
}
