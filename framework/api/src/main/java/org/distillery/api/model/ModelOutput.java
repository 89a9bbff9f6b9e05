package org.distillery.api.model;

import java.util.List;

import ai.djl.ndarray.NDArray;

/**
 * The result of a forward pass. Lists are empty unless requested in {@link ForwardOptions}.
 *
 * @param logits [batch, seq, vocab], or {@code null} after a {@link ForwardOptions#headless() headless} pass
 * @param hiddenStates embeddings output then each layer's output (numLayers + 1 entries), each [batch, seq, hidden]
 * @param attentions each layer's attention weights [batch, heads, seq, kvSeq]
 * @param routerLogits each MoE layer's router logits [batch * seq, experts]
 * @param expertCounts each MoE layer's tokens per expert [experts]
 * @param cache the extended KV cache, or {@code null} if none was given
 * @param finalHidden [batch, seq, hidden] the final norm's output (the output head's input) after a
 *     {@link ForwardOptions#headless() headless} pass, else {@code null}
 * @param imageFeatures [images, tokensPerImage, hidden] the features that replaced the image tokens'
 *     embeddings (a LLaVA projector's outputs), or {@code null} when the input had no images
 */
public record ModelOutput(NDArray logits, List<NDArray> hiddenStates, List<NDArray> attentions,
                          List<NDArray> routerLogits, List<NDArray> expertCounts, KvCache cache, NDArray finalHidden,
                          NDArray imageFeatures) {

    /** The output of a pass through the head, without image features. */
    public ModelOutput(NDArray logits, List<NDArray> hiddenStates, List<NDArray> attentions,
                       List<NDArray> routerLogits, List<NDArray> expertCounts, KvCache cache) {
        this(logits, hiddenStates, attentions, routerLogits, expertCounts, cache, null, null);
    }
}
