/**
 * Evaluation: the built-in metrics ({@code eval.rouge-l}, {@code eval.exact-match},
 * {@code eval.ece}, {@code eval.distinct-4}, {@code eval.lm-loss}, {@code eval.exaccerr},
 * {@code eval.judge}), the {@link org.distillery.eval.Evaluator} that generates
 * predictions once and runs a list of metrics over them, and
 * {@link org.distillery.eval.RunComparison}, which aggregates the results of several
 * runs over seeds.
 *
 * <p>Every metric reads its records in the project's one prompt format
 * ({@link org.distillery.kit.data.Records}): {@code [bos] prompt "\n"}, the model continues, and
 * a response ends with eos. The pure formulas (LCS, ROUGE-L, normalisation, distinct n-grams,
 * ECE, ExAccErr) are static methods of {@link org.distillery.kit.text.TextMetrics} and
 * {@link org.distillery.eval.Calibration}, tested against hand-computed values.
 */
package org.distillery.eval;
