package org.distillery.api.model;

import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * One tensor of a weights file, as its header describes it.
 *
 * @param name the tensor's name in the file, e.g. {@code model.layers.0.mlp.up_proj.weight}
 * @param dataType how it is stored ({@link DataType#BFLOAT16} included)
 * @param shape its dimensions
 */
public record TensorInfo(String name, DataType dataType, Shape shape) {

    /** Bytes of the stored tensor. */
    public long bytes() {
        return shape.size() * dataType.getNumOfBytes();
    }
}
