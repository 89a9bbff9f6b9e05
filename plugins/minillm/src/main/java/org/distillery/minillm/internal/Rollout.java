package org.distillery.minillm.internal;

/**
 * One sampled response and what MiniLLM stores per response token (index j is the token at
 * {@code ids[promptLength + j]}).
 *
 * @param ids prompt then response tokens
 * @param promptLength tokens of prompt
 * @param oldLogProbs log q_old(y_j) of the student that sampled
 * @param teacherLogProbs log p(y_j) of the teacher
 * @param importance w_j = q_old(y_j) / p̃(y_j)
 * @param rewards r_j after scaling and clipping
 * @param advantages the length-normalised long-term returns (whitened over the buffer when
 *     {@code whiten-advantages = buffer}; per micro-batch when it is served, with {@code minibatch})
 */
record Rollout(int[] ids, int promptLength, float[] oldLogProbs, float[] teacherLogProbs, float[] importance,
               float[] rewards, float[] advantages) {

    /** Response tokens. */
    int responseLength() {
        return ids.length - promptLength;
    }
}
