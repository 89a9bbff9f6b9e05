/**
 * Losses: a {@link org.distillery.api.loss.LossFactory} builds a {@link
 * org.distillery.api.loss.Loss} from its config node; the trainer sums weighted terms and
 * looks each term's factory up by key at every step, so a swapped or updated loss takes
 * effect at the next step.
 */
package org.distillery.api.loss;
