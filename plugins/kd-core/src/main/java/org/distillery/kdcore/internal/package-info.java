/**
 * The kd-core method family: token-level distillation losses (SFT, forward and reverse KL,
 * generalised JSD, TVD, skew KL and skew reverse KL, SeqKD) and hidden-state matching.
 *
 * <p>Every logit loss walks the sequence in chunks of {@code chunk-size} positions, each in
 * its own sub-manager of the step's manager, so full {@code [batch, seq, vocab]} probability
 * tensors never exist at once. Each loss returns the sum over counted tokens and their
 * number; the trainer divides by the tokens of the whole accumulated batch.
 *
 * <p>Private to the bundle; {@link org.distillery.kdcore.internal.KdCoreModule} is named by
 * the bundle's {@code Distillery-Module} header.
 */
package org.distillery.kdcore.internal;
