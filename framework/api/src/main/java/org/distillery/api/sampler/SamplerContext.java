package org.distillery.api.sampler;

import org.distillery.api.data.Datasets;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.api.teacher.Teacher;

/**
 * What a sampler may draw on. Its dataset is one of its own parameters, resolved through
 * {@code datasets} (an empty reference means the experiment's training file).
 *
 * @param resources the run's manager, seed, event log and services
 * @param datasets the run's datasets
 * @param tokenizer the shared tokenizer
 * @param student the student being trained (for on-policy sampling)
 * @param teacher the teacher (for teacher-generated sequences), or {@code null}
 * @param batchSize sequences per micro-batch
 * @param maxLength maximum tokens per sequence
 * @param paramsPath where the sampler's parameters were written (e.g. {@code train.sampler.params}), for messages
 */
public record SamplerContext(RunResources resources, Datasets datasets, Tokenizer tokenizer, LanguageModel student,
                             Teacher teacher, int batchSize, int maxLength, String paramsPath) {
}
