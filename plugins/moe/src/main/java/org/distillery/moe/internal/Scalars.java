package org.distillery.moe.internal;

import ai.djl.ndarray.NDArray;

/**
 * Scalars that are safe in a differentiated expression. DJL's {@code NDArray.mul(Number)} (and
 * div, maximum, ...) wraps the number in an array over a Java buffer and closes it right after
 * the op, while autograd keeps it for backward: after a GC, backward reads freed memory. Here the
 * number is copied into engine-owned memory, which autograd keeps alive for as long as it needs.
 */
final class Scalars {

    private Scalars() {
    }

    /** {@code value} as a 0-d array of {@code like}'s type, in {@code like}'s manager, owned by the engine. */
    static NDArray of(NDArray like, double value) {
        try (NDArray blob = like.getManager().create((float) value)) {
            NDArray owned = blob.duplicate();
            return owned.getDataType() == like.getDataType() ? owned : owned.toType(like.getDataType(), false);
        }
    }
}
