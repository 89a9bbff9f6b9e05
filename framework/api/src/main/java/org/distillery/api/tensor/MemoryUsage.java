package org.distillery.api.tensor;

/**
 * Memory held by the engine.
 *
 * @param hostBytes native heap bytes in use by the process (allocator-reported, excludes the Java heap)
 * @param deviceBytes bytes in use on the accelerator, or 0 on CPU
 * @param source how the figures were obtained, e.g. {@code mallinfo2} or {@code cuda}
 */
public record MemoryUsage(long hostBytes, long deviceBytes, String source) {
}
