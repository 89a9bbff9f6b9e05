package org.distillery.api.model;

import java.util.Set;

/**
 * How to decode.
 *
 * @param maxNewTokens tokens to generate at most per sequence
 * @param temperature softmax temperature; 0 means greedy
 * @param topK keep the k most likely tokens; 0 disables
 * @param topP nucleus mass; 1 disables
 * @param stopTokens ids that end a sequence (the eos id is always one)
 * @param seed random seed; the same seed gives the same tokens
 * @param useCache decode incrementally with a KV cache
 */
public record GenerationOptions(int maxNewTokens, float temperature, int topK, float topP,
                                Set<Integer> stopTokens, long seed, boolean useCache) {

    /** Greedy decoding with a cache. */
    public static GenerationOptions greedy(int maxNewTokens) {
        return new GenerationOptions(maxNewTokens, 0f, 0, 1f, Set.of(), 0L, true);
    }

    /** Pure sampling at temperature 1 with a cache. */
    public static GenerationOptions sampling(int maxNewTokens, long seed) {
        return new GenerationOptions(maxNewTokens, 1f, 0, 1f, Set.of(), seed, true);
    }
}
