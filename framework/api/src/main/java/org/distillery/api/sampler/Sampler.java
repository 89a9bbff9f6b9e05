package org.distillery.api.sampler;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;

/**
 * An endless source of training batches. Its position is part of every checkpoint, so a
 * resumed run sees the same batches as an uninterrupted one.
 */
public interface Sampler {

    /** The next micro-batch, with arrays in {@code manager} (the step's). */
    TokenBatch next(NDManager manager);

    /** The position in the stream, as a small JSON-compatible string. */
    String position();

    /** Restores a position returned by {@link #position()}. */
    void seek(String position);

    /**
     * Writes state too large for {@link #position()} (a rollout buffer, say) into {@code dir},
     * a folder of the checkpoint being written. Most samplers have none.
     */
    default void saveState(java.nio.file.Path dir) throws java.io.IOException {
    }

    /** Restores what {@link #saveState} wrote; called on resume before {@link #seek}. */
    default void restoreState(java.nio.file.Path dir) throws java.io.IOException {
    }

    /**
     * Figures about the batches served since the previous call (e.g. the mean reward, accuracy and
     * response length of on-policy samples); the trainer calls it once per step and logs them with
     * the step under {@code sampler}. Most samplers have none.
     */
    default java.util.Map<String, Double> figures() {
        return java.util.Map.of();
    }
}
