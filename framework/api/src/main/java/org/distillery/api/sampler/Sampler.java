package org.distillery.api.sampler;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;

/**
 * An endless source of training batches. Its position is part of every checkpoint, so a
 * resumed run sees the same batches as an uninterrupted one.
 */
public interface Sampler {

    /** The next micro-batch, with arrays in {@code manager} (the step's). */
    TokenBatch next(NDManager manager);

    /** The position in the stream, as a small JSON-compatible string. */
    String position();

    /** Restores a position returned by {@link #position()}. */
    void seek(String position);
}
