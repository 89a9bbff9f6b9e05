package org.distillery.api.data;

import ai.djl.ndarray.NDArray;

/**
 * A tokenised batch, left-aligned prompts followed by responses, right padded.
 *
 * @param inputIds [batch, seq] int64
 * @param attentionMask [batch, seq] 1 for tokens, 0 for padding
 * @param targets [batch, seq] int64: the next token at each position (position t predicts targets[t])
 * @param lossMask [batch, seq] float32: 1 where the prediction counts (response tokens), else 0
 * @param promptLengths [batch] int32 tokens of prompt in each row
 */
public record TokenBatch(NDArray inputIds, NDArray attentionMask, NDArray targets, NDArray lossMask,
                         NDArray promptLengths) {

    /** Number of positions whose prediction counts. */
    public long lossTokens() {
        return (long) lossMask.sum().getFloat();
    }
}
