package org.distillery.api.reward;

import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.api.teacher.Teacher;

/**
 * What a reward may use when it is built.
 *
 * @param resources the run's manager, seed, event log and services
 * @param tokenizer the run's tokenizer
 * @param teacher the run's teacher (for a judge or teacher-induced reward), or {@code null}
 * @param paramsPath where the reward's parameters were written (e.g. {@code train.sampler.params.rewards[0].params}),
 *     for messages
 */
public record RewardContext(RunResources resources, Tokenizer tokenizer, Teacher teacher, String paramsPath) {
}
