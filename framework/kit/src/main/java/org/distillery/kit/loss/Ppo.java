package org.distillery.kit.loss;

import ai.djl.ndarray.NDArray;

/**
 * PPO's clipped surrogate, which MiniLLM's policy gradient and GRPO share: per token
 * max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)), to be minimised, with the clip bounds as engine-owned
 * scalars ({@link Scalars}), never DJL's {@code Number} overloads.
 *
 * <pre>
 * NDArray ratio = logQ.sub(Chunks.slice(old, at, chunk)).exp();
 * return Ppo.clippedSurrogate(ratio, Chunks.slice(advantages, at, chunk), epsilon).mul(mask).sum();
 * </pre>
 */
public final class Ppo {

    private Ppo() {
    }

    /** max(−A·ρ, −A·clip(ρ, 1 − ε, 1 + ε)) elementwise, for ratios ρ and advantages A of one shape. */
    public static NDArray clippedSurrogate(NDArray ratio, NDArray advantages, double epsilon) {
        NDArray negA = advantages.neg();
        NDArray clipped = ratio.maximum(Scalars.of(ratio, 1 - epsilon)).minimum(Scalars.of(ratio, 1 + epsilon));
        return negA.mul(ratio).maximum(negA.mul(clipped));
    }
}
