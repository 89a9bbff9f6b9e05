package org.distillery.api.tensor;

/**
 * Memory held by the engine.
 *
 * @param tensorBytes bytes of the arrays alive in the service's managers (every run and step scope):
 *     what distillery code holds, independent of allocator caching and of the JVM's own use
 * @param hostBytes anonymous resident bytes of the whole process: tensors, allocator caches and the
 *     JVM's own native memory (the Java heap too, once touched)
 * @param deviceBytes bytes in use on the accelerator, or 0 on CPU
 * @param source how {@code hostBytes} was obtained, e.g. {@code rss-anon}
 */
public record MemoryUsage(long tensorBytes, long hostBytes, long deviceBytes, String source) {
}
