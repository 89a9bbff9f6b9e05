package org.distillery.kit.loss;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

/**
 * Arrays of Java data that may be closed while autograd still needs them. DJL's PyTorch engine makes
 * {@code manager.create(long[])} (and every other {@code create} of Java data) a tensor over a direct
 * buffer that the Java array object keeps alive: once the object is closed, say by the
 * {@code NDScope} of a forward pass, a garbage collection frees the buffer while the tensor lives on
 * in the autograd graph. An index array that an embedding lookup or a gather saves for backward then
 * holds garbage when backward runs, and the gradients it routes go to the wrong rows (this broke
 * LLaVA's image-feature merge and the MoE dispatch whenever a collection fell between forward and
 * backward). Here the data is copied into engine-owned memory, as {@link Scalars} does for numbers.
 *
 * <pre>
 * NDArray rows = EngineArrays.longs(manager, index);   // never manager.create(index) inside a forward scope
 * </pre>
 */
public final class EngineArrays {

    private EngineArrays() {
    }

    /** {@code data} as an INT64 array of {@code shape} in {@code manager}, in engine-owned memory. */
    public static NDArray longs(NDManager manager, long[] data, Shape shape) {
        try (NDArray blob = manager.create(data, shape)) {
            return blob.duplicate();
        }
    }

    /** {@code data} as a 1-d INT64 array in {@code manager}, in engine-owned memory. */
    public static NDArray longs(NDManager manager, long[] data) {
        return longs(manager, data, new Shape(data.length));
    }
}
