package org.distillery.api.reward;

import com.typesafe.config.Config;

/**
 * Contribution kind {@code rewards}. Its defaults live in the bundle's {@code reference.conf}
 * under {@code distillery.rewards."<key>"}. A sampler or stage names its rewards as weighted
 * {@code {key, weight, params}} nodes, e.g.
 * {@code rewards = [ { key = reward.exact-answer, weight = 1.0 }, { key = reward.format, weight = 0.1 } ]}.
 */
public interface RewardFactory extends org.distillery.api.ContributionFactory {

    /**
     * Builds the reward.
     *
     * @param context the run's resources, tokenizer and teacher
     * @param params the validated parameters, defaults filled in
     */
    Reward create(RewardContext context, Config params);
}
