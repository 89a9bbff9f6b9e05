/**
 * Benchmarks behind {@code distill bench generate} and {@code distill bench forward}: each
 * prints measured figures next to a baseline measured in the same call (generation without the
 * KV cache; the matmul peak of the same engine and threads), so the printed ratios hold on any
 * machine. Nothing here asserts a time.
 */
package org.distillery.models.bench;
