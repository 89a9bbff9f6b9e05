/**
 * Helpers for losses: {@link org.distillery.kit.loss.Chunks} (chunked losses with per-chunk
 * gradients, so full-vocabulary probabilities never all live at once),
 * {@link org.distillery.kit.loss.Scalars} and {@link org.distillery.kit.loss.EngineArrays} (numbers and index arrays
 * that survive until backward, whoever closes them first: never use DJL's
 * {@code op(Number)} overloads on a differentiated array) and
 * {@link org.distillery.kit.loss.RegisteredLoss} (compose another bundle's loss by key, hot-swap aware).
 */
package org.distillery.kit.loss;
