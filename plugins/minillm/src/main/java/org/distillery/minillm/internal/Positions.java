package org.distillery.minillm.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

/**
 * Sums a per-position computation over a sequence in chunks of positions, each in its own
 * sub-manager, so the [batch, chunk, vocab] intermediates of one chunk are freed before the
 * next starts; only each chunk's scalar moves to the target manager. Closing the handles does
 * not cut the autograd graph.
 */
final class Positions {

    /** One chunk's scalar contribution; arrays it creates live in {@code chunk}. */
    @FunctionalInterface
    interface Body {
        /** The scalar for the positions {@code positions} (an index {@code ":, start:end"}). */
        NDArray apply(NDManager chunk, NDIndex positions);
    }

    private Positions() {
    }

    /** Sums {@code body} over consecutive chunks of {@code chunkSize} of {@code length} positions. */
    static NDArray sum(long length, int chunkSize, NDManager target, Body body) {
        NDArray total = null;
        for (long start = 0; start < length; start += chunkSize) {
            long end = Math.min(length, start + chunkSize);
            try (NDManager chunk = target.newSubManager()) {
                NDArray part = body.apply(chunk, new NDIndex(":, {}:{}", start, end));
                part.attach(target);
                total = total == null ? part : total.add(part);
            }
        }
        return total != null ? total : target.zeros(new Shape(), DataType.FLOAT32);
    }

    /** {@code array} at {@code positions}, owned by {@code chunk}, as float32. */
    static NDArray slice(NDArray array, NDIndex positions, NDManager chunk) {
        NDArray view = array.get(positions);
        view.attach(chunk);
        return view.getDataType() == DataType.FLOAT32 ? view : view.toType(DataType.FLOAT32, false);
    }

    /** Integer {@code array} at {@code positions}, owned by {@code chunk}, as int64. */
    static NDArray sliceIds(NDArray array, NDIndex positions, NDManager chunk) {
        NDArray view = array.get(positions);
        view.attach(chunk);
        return view.getDataType() == DataType.INT64 ? view : view.toType(DataType.INT64, false);
    }

    /** The sum of a mask, as a double. */
    static double total(NDArray mask) {
        try (NDArray s = mask.toType(DataType.FLOAT32, false).sum()) {
            return s.getFloat();
        }
    }
}
