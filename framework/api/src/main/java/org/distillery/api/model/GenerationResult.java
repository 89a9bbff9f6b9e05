package org.distillery.api.model;

import java.util.List;

/**
 * Generated continuations, one per prompt.
 *
 * @param tokens new token ids per sequence, stop token included if one was produced
 * @param logProbs the generating model's log-probability of each new token (of the sampling
 *     distribution when a {@link NextTokenHook} was used)
 */
public record GenerationResult(List<int[]> tokens, List<float[]> logProbs) {
}
