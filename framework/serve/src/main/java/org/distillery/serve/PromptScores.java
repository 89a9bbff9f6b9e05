package org.distillery.serve;

/**
 * The model's view of every token of a sequence after the first.
 *
 * @param logProbs [n - 1]: log p(seq[t] | seq[..t]) for t = 1..n-1
 * @param topIds [n - 1][k]: the k most likely ids at each of those positions, best first
 * @param topLogProbs [n - 1][k]: their log-probabilities
 */
record PromptScores(float[] logProbs, int[][] topIds, float[][] topLogProbs) {
}
