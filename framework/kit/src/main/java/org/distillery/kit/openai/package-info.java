/**
 * A client for any OpenAI-compatible endpoint ({@link org.distillery.kit.openai.OpenAiClient}):
 * bounded concurrency, retries with exponential backoff and jitter on 429, 5xx and connection
 * errors (honouring {@code Retry-After}), per-request timeouts, and an on-disk response cache
 * so that a re-run does not pay for the same request twice.
 */
package org.distillery.kit.openai;
