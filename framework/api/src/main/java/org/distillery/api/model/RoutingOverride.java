package org.distillery.api.model;

import ai.djl.ndarray.NDArray;

/**
 * Replaces a sparse MoE layer's own top-k routing: pick experts, sample them from the
 * router distribution, or use all of them with dense weights.
 */
public interface RoutingOverride {

    /**
     * Chooses experts for each token.
     *
     * @param layer the decoder layer index
     * @param routerLogits [tokens, experts] router logits of this layer
     * @param topK the model's configured experts per token
     * @return the experts and their mixing weights for each token
     */
    Routing route(int layer, NDArray routerLogits, int topK);

    /**
     * A routing decision.
     *
     * @param experts [tokens, k] expert indices (int64)
     * @param weights [tokens, k] mixing weights
     */
    record Routing(NDArray experts, NDArray weights) {
    }
}
