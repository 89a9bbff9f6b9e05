package org.distillery.api.loss;

import ai.djl.ndarray.NDArray;

/**
 * A loss over one micro-batch.
 *
 * @param sum scalar: the loss summed over the counted tokens (or sequences)
 * @param count how many tokens (or sequences) {@code sum} covers
 */
public record LossValue(NDArray sum, long count) {
}
