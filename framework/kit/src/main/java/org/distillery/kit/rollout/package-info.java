/**
 * On-policy sampling for samplers that train on their own generations (policy-gradient and
 * on-policy distillation): a {@link org.distillery.kit.rollout.Rollout} is a sampled sequence
 * with named per-token values of its response; a {@link org.distillery.kit.rollout.RolloutBuffer}
 * holds one round of them and writes itself bit for bit into a checkpoint, so a resumed run trains
 * on exactly the same buffer; {@link org.distillery.kit.rollout.RolloutBatches} turns rollouts into
 * right-padded batches whose extras carry the values; {@link org.distillery.kit.rollout.RolloutRounds}
 * walks rounds, PPO epochs and micro-batches with a resumable position; {@link org.distillery.kit.rollout.SeededOrder}
 * derives every random order from the run's seed and counters, so positions are resumable.
 */
package org.distillery.kit.rollout;
