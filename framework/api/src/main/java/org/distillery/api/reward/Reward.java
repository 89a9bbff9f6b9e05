package org.distillery.api.reward;

import java.util.List;

import ai.djl.ndarray.NDManager;

/**
 * Scores sampled completions. A sampler or a data stage calls it once per batch of completions,
 * without gradients; it may run models (a judge, the teacher) in {@code manager}.
 */
public interface Reward extends AutoCloseable {

    /**
     * One value per completion, in order.
     *
     * @param completions the completions to score
     * @param manager the caller's manager for any arrays the reward creates (closed by the caller)
     */
    List<RewardValue> score(List<Completion> completions, NDManager manager);

    /** Releases what the reward opened (a judge model, an HTTP client). */
    @Override
    default void close() {
    }
}
