package org.distillery.kit.rollout;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

/**
 * Random orders that depend only on a seed and counters, so a sampler's position (a few counters)
 * is all it needs to resume: {@link #mix} derives a well-mixed seed from a seed and counters (the
 * SplitMix64 finaliser, step by step), {@link #shuffled} a permutation, and {@link #at} walks an
 * endless stream of a list's items reshuffled every epoch.
 *
 * <pre>
 * long seed = resources.random("rl.grpo").nextLong();
 * int item = SeededOrder.at(prompts.size(), SeededOrder.mix(seed, 2), cursor++);   // the cursor is the position
 * </pre>
 */
public final class SeededOrder {

    private SeededOrder() {
    }

    /** A well-mixed seed from {@code seed} and {@code parts} (purpose tags, rounds, epochs). */
    public static long mix(long seed, long... parts) {
        long h = seed;
        for (long p : parts) {
            h += 0x9E3779B97F4A7C15L + p;
            h = (h ^ (h >>> 30)) * 0xBF58476D1CE4E5B9L;
            h = (h ^ (h >>> 27)) * 0x94D049BB133111EBL;
            h ^= h >>> 31;
        }
        return h;
    }

    /** The indices 0..n-1 in the order {@code seed} shuffles them to. */
    public static List<Integer> shuffled(int n, long seed) {
        List<Integer> idx = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            idx.add(i);
        }
        Collections.shuffle(idx, new Random(seed));
        return idx;
    }

    /**
     * The item at {@code cursor} of an endless stream over {@code n} items, each epoch of {@code n}
     * consecutive cursors a fresh permutation seeded by {@code mix(seed, epoch)}.
     */
    public static int at(int n, long seed, long cursor) {
        if (n < 1) {
            throw new IllegalArgumentException("an empty list has no stream");
        }
        long epoch = cursor / n;
        return shuffled(n, mix(seed, epoch)).get((int) (cursor % n));
    }
}
