package org.distillery.api.data;

import ai.djl.ndarray.NDArray;
import java.util.Map;

/**
 * A tokenised batch, left-aligned prompts followed by responses, right padded.
 *
 * @param inputIds [batch, seq] int64
 * @param attentionMask [batch, seq] 1 for tokens, 0 for padding
 * @param targets [batch, seq] int64: the next token at each position (position t predicts targets[t])
 * @param lossMask [batch, seq] float32: 1 where the prediction counts (response tokens), else 0; a
 *     sampler may scale a record's row by the record's weight (e.g. a coreset weight), and the
 *     trainer divides a step's loss by the masks' sum, so the loss is the weighted mean over tokens
 * @param promptLengths [batch] int32 tokens of prompt in each row
 * @param extras per-token or per-row arrays a sampler attaches for the losses that read them
 *     (for example MiniLLM's rollout advantages and old log-probabilities), keyed by name; empty
 *     for plain dataset batches
 * @param pixelValues [images, channels, height, width] float32: the images of the rows that have one,
 *     in row order (the model's {@link org.distillery.api.model.ForwardOptions#pixelValues()}), or
 *     {@code null} when no row has an image
 * @param imageSpans [batch, 2] int32: per row, the position of its first image token and the number
 *     of image tokens (0 and 0 for a text-only row), or {@code null} when no row has an image
 */
public record TokenBatch(NDArray inputIds, NDArray attentionMask, NDArray targets, NDArray lossMask,
                         NDArray promptLengths, Map<String, NDArray> extras, NDArray pixelValues,
                         NDArray imageSpans) {

    /** A batch without extras. */
    public TokenBatch(NDArray inputIds, NDArray attentionMask, NDArray targets, NDArray lossMask,
                      NDArray promptLengths) {
        this(inputIds, attentionMask, targets, lossMask, promptLengths, Map.of());
    }

    /** A batch without images. */
    public TokenBatch(NDArray inputIds, NDArray attentionMask, NDArray targets, NDArray lossMask,
                      NDArray promptLengths, Map<String, NDArray> extras) {
        this(inputIds, attentionMask, targets, lossMask, promptLengths, extras, null, null);
    }

    /** Copies the extras map (never {@code null}). */
    public TokenBatch {
        extras = extras == null ? Map.of() : Map.copyOf(extras);
        if ((pixelValues == null) != (imageSpans == null)) {
            throw new IllegalArgumentException("a batch with images needs both pixel values and image spans");
        }
    }

    /** True when some row has an image. */
    public boolean hasImages() {
        return pixelValues != null;
    }

    /** A copy with these images ({@code null} and {@code null}: none). */
    public TokenBatch withImages(NDArray pixels, NDArray spans) {
        return new TokenBatch(inputIds, attentionMask, targets, lossMask, promptLengths, extras, pixels, spans);
    }

    /** Number of positions whose prediction counts. */
    public long lossTokens() {
        return (long) lossMask.sum().getFloat();
    }

    /** The extra array {@code name}; fails naming the ones present when it is missing. */
    public NDArray extra(String name) {
        NDArray a = extras.get(name);
        if (a == null) {
            throw new IllegalArgumentException("the batch has no extra '" + name + "' (it has " + extras.keySet()
                    + "); this loss needs a sampler that attaches it");
        }
        return a;
    }

    /** A copy with another loss mask (for a loss that counts a different set of positions). */
    public TokenBatch withLossMask(NDArray mask) {
        return new TokenBatch(inputIds, attentionMask, targets, mask, promptLengths, extras, pixelValues, imageSpans);
    }
}
