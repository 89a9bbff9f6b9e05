package org.distillery.api.model;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/**
 * The weights of a model folder ({@code model.safetensors} or a sharded index), read one tensor at
 * a time without loading the model: each read maps just that tensor's bytes and releases the mapping
 * before it returns, so a tool that walks the tensors holds about one of them at a time.
 * Validated when opened (header, offsets, file sizes); every error names the file and the tensor.
 */
public interface WeightReader extends AutoCloseable {

    /** The model folder. */
    Path dir();

    /** Every tensor, by name, in file order (shards in index order). */
    Map<String, TensorInfo> tensors();

    /**
     * Reads one tensor into {@code manager}, converted to {@code type} ({@code null}: as stored;
     * bfloat16 is widened to float32 exactly, as the engine has no bfloat16 arrays).
     */
    NDArray read(String name, NDManager manager, DataType type) throws IOException;

    /** The stored bytes of one tensor (little-endian, as in the file), for exact copies. */
    ByteBuffer bytes(String name) throws IOException;

    /** Closes the files. */
    @Override
    void close() throws IOException;
}
