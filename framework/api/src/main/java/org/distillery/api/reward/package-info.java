/**
 * Rewards: a {@link org.distillery.api.reward.RewardFactory} builds a {@link
 * org.distillery.api.reward.Reward} that scores sampled completions, for reinforcement learning
 * (a sampler's rewards), rejection sampling (a trace stage's verifier) and ranking (AI-feedback
 * pairs). A reward is a whole-response score, optionally with per-token rewards, and may say
 * whether the response is correct.
 */
package org.distillery.api.reward;
