package org.distillery.api.model;

import ai.djl.ndarray.NDArray;

/**
 * What a forward pass takes besides the input ids and what it should return.
 *
 * @param attentionMask [batch, seq] 1 for real tokens, 0 for padding; {@code null} means all real
 * @param positionIds [batch, seq] positions; {@code null} derives them from the mask (left padding aware)
 * @param cache a KV cache to read and extend, or {@code null}
 * @param hiddenStates return every layer's hidden states
 * @param attentions return every layer's attention weights
 * @param routerLogits return every MoE layer's router logits
 * @param routing overrides MoE expert selection, or {@code null} for the model's own top-k
 * @param training forward in training mode (dropout on, gradients recorded by the caller's collector)
 * @param headless stop after the final norm: {@link ModelOutput#logits()} is {@code null} and
 *     {@link ModelOutput#finalHidden()} holds the head's input, which {@link LanguageModel#outputHead()}
 *     turns into logits (only for models whose output head is present)
 * @param pixelValues [images, channels, height, width] float32 pixel values of the images whose tokens
 *     the input ids hold, in row-major order of their image tokens (a model with a vision tower turns
 *     each into {@link VisionInput#tokensPerImage()} features that replace the embeddings of its image
 *     tokens); {@code null} when the input has no images
 * @param inputEmbeddings [batch, seq, hidden] embeddings used instead of looking the input ids up
 *     (Hugging Face's {@code inputs_embeds}; see {@link LanguageModel#embedTokens}); the ids still give
 *     the shape; {@code null} looks the ids up
 */
public record ForwardOptions(NDArray attentionMask, NDArray positionIds, KvCache cache, boolean hiddenStates,
                             boolean attentions, boolean routerLogits, RoutingOverride routing, boolean training,
                             boolean headless, NDArray pixelValues, NDArray inputEmbeddings) {

    /** Options through the head, without images or input embeddings (the shape before fused and multimodal models). */
    public ForwardOptions(NDArray attentionMask, NDArray positionIds, KvCache cache, boolean hiddenStates,
                          boolean attentions, boolean routerLogits, RoutingOverride routing, boolean training) {
        this(attentionMask, positionIds, cache, hiddenStates, attentions, routerLogits, routing, training, false, null,
                null);
    }

    /** Plain inference: logits only. */
    public static ForwardOptions inference() {
        return new ForwardOptions(null, null, null, false, false, false, null, false);
    }

    /** Training forward: logits only, training mode. */
    public static ForwardOptions train() {
        return new ForwardOptions(null, null, null, false, false, false, null, true);
    }

    /** A copy with the given attention mask. */
    public ForwardOptions withMask(NDArray mask) {
        return new ForwardOptions(mask, positionIds, cache, hiddenStates, attentions, routerLogits, routing,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy with the given position ids. */
    public ForwardOptions withPositions(NDArray positions) {
        return new ForwardOptions(attentionMask, positions, cache, hiddenStates, attentions, routerLogits, routing,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy that reads and extends the given cache. */
    public ForwardOptions withCache(KvCache kv) {
        return new ForwardOptions(attentionMask, positionIds, kv, hiddenStates, attentions, routerLogits, routing,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy that returns hidden states. */
    public ForwardOptions withHiddenStates() {
        return new ForwardOptions(attentionMask, positionIds, cache, true, attentions, routerLogits, routing,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy that returns attention weights. */
    public ForwardOptions withAttentions() {
        return new ForwardOptions(attentionMask, positionIds, cache, hiddenStates, true, routerLogits, routing,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy that returns router logits. */
    public ForwardOptions withRouterLogits() {
        return new ForwardOptions(attentionMask, positionIds, cache, hiddenStates, attentions, true, routing,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy that stops after the final norm and returns its output instead of logits (see {@code headless}). */
    public ForwardOptions withoutHead() {
        return new ForwardOptions(attentionMask, positionIds, cache, hiddenStates, attentions, routerLogits, routing,
                training, true, pixelValues, inputEmbeddings);
    }

    /** A copy whose MoE layers route through {@code override}. */
    public ForwardOptions withRouting(RoutingOverride override) {
        return new ForwardOptions(attentionMask, positionIds, cache, hiddenStates, attentions, routerLogits, override,
                training, headless, pixelValues, inputEmbeddings);
    }

    /** A copy whose image tokens take the features of these images ({@code null}: no images). */
    public ForwardOptions withPixelValues(NDArray pixels) {
        return new ForwardOptions(attentionMask, positionIds, cache, hiddenStates, attentions, routerLogits, routing,
                training, headless, pixels, inputEmbeddings);
    }

    /** A copy that uses these input embeddings instead of looking the ids up ({@code null}: look them up). */
    public ForwardOptions withInputEmbeddings(NDArray embeddings) {
        return new ForwardOptions(attentionMask, positionIds, cache, hiddenStates, attentions, routerLogits, routing,
                training, headless, pixelValues, embeddings);
    }
}
