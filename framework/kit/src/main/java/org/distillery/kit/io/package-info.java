/**
 * Writing files so that a crash leaves the old state or the new one, never half of either:
 * {@link org.distillery.kit.io.AtomicFiles} (checkpoints, datasets, caches, merged models).
 */
package org.distillery.kit.io;
