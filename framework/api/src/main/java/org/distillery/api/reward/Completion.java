package org.distillery.api.reward;

import org.distillery.api.data.Example;

/**
 * One sampled response to score.
 *
 * @param example the record the prompt came from (its {@code meta} holds what a checker needs, e.g.
 *     {@code meta.answer})
 * @param promptIds the prompt's tokens as the model saw them (bos included when the tokenizer has one)
 * @param responseIds the generated tokens, the stop token included when one was produced
 * @param response the response text, decoded up to (not including) the stop token
 */
public record Completion(Example example, int[] promptIds, int[] responseIds, String response) {
}
