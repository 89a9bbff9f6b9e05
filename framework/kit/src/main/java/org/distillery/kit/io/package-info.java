/**
 * Writing files so that a crash leaves the old state or the new one, never half of either:
 * {@link org.distillery.kit.io.AtomicFiles} (checkpoints, datasets, caches, merged models); and the
 * files a new model folder carries over from the one it was made from ({@link org.distillery.kit.io.ModelFiles}).
 */
package org.distillery.kit.io;
