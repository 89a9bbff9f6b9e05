/**
 * The training engine: the supervised distillation stage ({@code train.kd}) that runs
 * {@link org.distillery.api.train.KdStage}s resolved against the experiment ({@link org.distillery.train.KdStages}),
 * learning-rate schedules, atomic checkpoints, the dataset sampler, the student's construction and
 * the {@code kd} and {@code kd.compare} methods.
 */
package org.distillery.train;
