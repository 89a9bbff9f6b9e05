package org.distillery.kdcore.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Walks a sequence in chunks of positions, each computed in its own sub-manager.
 *
 * <p>Why: a chunk's intermediates ({@code [batch, chunk, vocab]} log-probabilities,
 * probabilities, masks) are freed when its sub-manager closes, before the next chunk starts.
 * Only the chunk's scalar is moved to the target manager. Closing the handles does not cut
 * the autograd graph: PyTorch keeps what the backward pass needs.
 */
final class Chunks {

    /** Computes one chunk's scalar contribution; arrays it creates must live in {@code chunk}. */
    @FunctionalInterface
    interface Body {
        /** Returns a scalar for the positions selected by {@code positions} ({@code ":, start:end"}). */
        NDArray apply(NDManager chunk, NDIndex positions);
    }

    private Chunks() {
    }

    /**
     * Sums {@code body} over consecutive chunks of {@code chunkSize} positions.
     *
     * @param length sequence length (axis 1 of the inputs)
     * @param chunkSize positions per chunk
     * @param target manager that receives each chunk's scalar and the sum
     * @param afterChunk called while a chunk's intermediates are still alive (memory probes)
     * @param body the per-chunk computation
     * @return a float32 scalar in {@code target}
     */
    static NDArray sum(long length, int chunkSize, NDManager target, Runnable afterChunk, Body body) {
        NDArray total = null;
        for (long start = 0; start < length; start += chunkSize) {
            long end = Math.min(length, start + chunkSize);
            try (NDManager chunk = target.newSubManager()) {
                NDArray part = body.apply(chunk, new NDIndex(":, {}:{}", start, end));
                afterChunk.run();
                part.attach(target);
                total = total == null ? part : total.add(part);
            }
        }
        return total != null ? total : target.zeros(new Shape(), DataType.FLOAT32);
    }

    /** A view of {@code array} at {@code positions}, owned by {@code chunk}, as float32. */
    static NDArray slice(NDArray array, NDIndex positions, NDManager chunk) {
        NDArray view = array.get(positions);
        view.attach(chunk);
        return view.getDataType() == DataType.FLOAT32 ? view : view.toType(DataType.FLOAT32, false);
    }

    /** A view of an integer {@code array} at {@code positions}, owned by {@code chunk}, as int64. */
    static NDArray sliceIds(NDArray array, NDIndex positions, NDManager chunk) {
        NDArray view = array.get(positions);
        view.attach(chunk);
        return view.getDataType() == DataType.INT64 ? view : view.toType(DataType.INT64, false);
    }

    /** The number of counted tokens: the sum of the loss mask. */
    static long count(NDArray lossMask) {
        try (NDArray s = lossMask.toType(DataType.FLOAT32, false).sum()) {
            return Math.round(s.getFloat());
        }
    }
}
