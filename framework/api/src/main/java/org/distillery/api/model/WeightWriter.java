package org.distillery.api.model;

import java.io.IOException;
import java.nio.ByteBuffer;

import ai.djl.ndarray.NDArray;

/**
 * A {@code safetensors} file written one tensor at a time: the tensors are declared up front (the
 * header is written first), then each is written in the declared order. The file is built under a
 * temporary name and renamed into place by {@link #finish()}; closing an unfinished writer deletes it,
 * so a failed tool leaves no partial file.
 */
public interface WeightWriter extends AutoCloseable {

    /** Writes the next declared tensor, converted to its declared type (float32 to bfloat16 rounds to nearest even). */
    void write(String name, NDArray tensor) throws IOException;

    /** Writes the next declared tensor from its stored bytes (little-endian, exactly its declared size). */
    void writeBytes(String name, ByteBuffer bytes) throws IOException;

    /** After the last tensor: forces the file to disk and renames it into place. */
    void finish() throws IOException;

    /** Deletes the temporary file unless {@link #finish()} succeeded. */
    @Override
    void close() throws IOException;
}
