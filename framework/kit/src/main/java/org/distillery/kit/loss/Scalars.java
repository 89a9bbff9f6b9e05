package org.distillery.kit.loss;

import ai.djl.ndarray.NDArray;

/**
 * Scalars that are safe in a differentiated expression. DJL's {@code NDArray.mul(Number)} (and
 * {@code div}, {@code add}, {@code sub}, {@code maximum}, {@code minimum}, {@code pow}) wraps the
 * number in an array over a Java buffer and closes it right after the op, while autograd keeps it
 * for backward: after a garbage collection, backward reads freed memory and the gradient is
 * garbage. Here the number is copied into engine-owned memory, which autograd keeps alive for as
 * long as it needs.
 *
 * <pre>
 * sum = sum.mul(Scalars.of(sum, temperature * temperature));   // never sum.mul(t * t)
 * </pre>
 */
public final class Scalars {

    private Scalars() {
    }

    /** {@code value} as a 0-d array of {@code like}'s type, in {@code like}'s manager, owned by the engine. */
    public static NDArray of(NDArray like, double value) {
        // created as float64 so that a float64 `like` gets the double itself, not its float rounding
        try (NDArray blob = like.getManager().create(value)) {
            NDArray owned = blob.duplicate();
            if (owned.getDataType() == like.getDataType()) {
                return owned;
            }
            NDArray cast = owned.toType(like.getDataType(), false);
            owned.close();
            return cast;
        }
    }
}
