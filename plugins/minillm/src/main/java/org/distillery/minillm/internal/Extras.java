package org.distillery.minillm.internal;

/**
 * Names of the per-token arrays {@code minillm.rollout} attaches to each batch
 * ({@link org.distillery.api.data.TokenBatch#extras()}): float32 [batch, seq], aligned with the
 * targets (position t holds the value of the token {@code targets[t]}), 0 where not defined.
 */
final class Extras {

    /** log q_old of the sampled token, under the student that sampled the round. */
    static final String OLD_LOGPROBS = "old-logprobs";
    /** log p of the sampled token under the teacher. */
    static final String TEACHER_LOGPROBS = "teacher-logprobs";
    /** Importance weight w_t = q_old / p̃ of the sampled token. */
    static final String IMPORTANCE = "importance";
    /** Whitened, length-normalised long-term advantage. */
    static final String ADVANTAGES = "advantages";
    /** Scaled and clipped per-token reward. */
    static final String REWARDS = "rewards";
    /** 1 at the counted positions of the pre-training rows, 0 elsewhere (all rollout rows). */
    static final String PT_MASK = "pt-mask";

    private Extras() {
    }
}
