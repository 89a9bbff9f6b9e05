package org.distillery.api.merge;

import java.io.IOException;

/**
 * Combines model folders into one. A merger checks every input before it writes anything (same
 * architecture, same tensor names and shapes; a mismatch is an
 * {@link org.distillery.api.InvalidConfigException} naming the tensor and both shapes), reads the
 * inputs tensor by tensor rather than loading whole models together, and publishes the output folder
 * ({@code config.json}, weights, tokenizer files) atomically: the folder appears complete or not at all.
 */
public interface Merger {

    /** Merges {@link MergeContext#models()} into {@link MergeContext#output()}. */
    MergeResult merge(MergeContext context) throws IOException;
}
