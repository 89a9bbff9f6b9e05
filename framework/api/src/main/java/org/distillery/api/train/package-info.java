/**
 * Methods are named recipes of stages (MiniLLM = SFT warm start, then policy gradient, then
 * evaluation); a stage is a typed record a trainer runs: {@link org.distillery.api.train.KdStage}
 * for the built-in {@code train.kd} trainer (loss terms, sampler, overrides, where the student
 * starts), {@link org.distillery.api.train.StageSpec} for trainers with their own parameters.
 */
package org.distillery.api.train;
