package org.distillery.api.sampler;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;

/**
 * What a sampler may draw on.
 *
 * @param run the run
 * @param tokenizer the shared tokenizer
 * @param student the student being trained (for on-policy sampling)
 * @param teacher the teacher (for teacher-generated sequences), or {@code null}
 * @param batchSize sequences per micro-batch
 * @param maxLength maximum tokens per sequence
 */
public record SamplerContext(RunContext run, Tokenizer tokenizer, LanguageModel student, Teacher teacher,
                             int batchSize, int maxLength) {
}
