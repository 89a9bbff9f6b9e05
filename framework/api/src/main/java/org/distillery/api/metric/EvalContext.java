package org.distillery.api.metric;

import java.util.List;

import org.distillery.api.data.Example;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;

/**
 * What a metric evaluates.
 *
 * @param resources the manager, seed and services of the run (or of {@code distill eval})
 * @param model the model under evaluation
 * @param teacher the reference teacher model, or {@code null}
 * @param tokenizer the tokenizer
 * @param examples the evaluation records
 * @param predictions generated responses aligned with {@code examples}, or empty if not generated
 */
public record EvalContext(RunResources resources, LanguageModel model, LanguageModel teacher, Tokenizer tokenizer,
                          List<Example> examples, List<String> predictions) {
}
