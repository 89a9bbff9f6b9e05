package org.distillery.api.tensor;

/**
 * Memory held by the engine.
 *
 * @param tensorBytes bytes of the arrays alive in the service's managers (every run and step scope):
 *     what distillery code holds, independent of allocator caching and of the JVM's own use
 * @param hostBytes native heap bytes in use by the whole process (allocator-reported; includes the
 *     JVM's own malloc use such as JIT arenas, excludes the Java heap)
 * @param deviceBytes bytes in use on the accelerator, or 0 on CPU
 * @param source how {@code hostBytes} was obtained, e.g. {@code mallinfo2}
 */
public record MemoryUsage(long tensorBytes, long hostBytes, long deviceBytes, String source) {
}
