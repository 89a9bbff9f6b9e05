package org.distillery.serve;

import java.util.SplittableRandom;

/**
 * One sequence of a decoding batch with its own sampling parameters.
 *
 * @param prompt prompt ids (bos included when the tokenizer has one)
 * @param maxTokens new tokens at most
 * @param temperature 0 for greedy
 * @param topP nucleus mass, 1 disables
 * @param random the row's own generator, seeded from the request's {@code seed}
 * @param topLogProbs how many alternatives to report per token (0: none)
 * @param ignoreEos keep going past end-of-sequence ids (vLLM's {@code ignore_eos}, for benchmarks)
 * @param sink where tokens go
 */
record DecodeRow(int[] prompt, int maxTokens, float temperature, float topP, SplittableRandom random, int topLogProbs,
                 boolean ignoreEos, TokenSink sink) {
}
