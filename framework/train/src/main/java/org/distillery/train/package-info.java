/**
 * The training engine built into the kernel: the supervised distillation stage
 * ({@code train.kd}), AdamW, learning-rate schedules, atomic checkpoints, the dataset
 * sampler, the local teacher and the one-stage {@code kd} method.
 */
package org.distillery.train;
