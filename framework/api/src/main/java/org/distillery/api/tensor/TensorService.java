package org.distillery.api.tensor;

import java.util.concurrent.Callable;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;

/**
 * Owns the engine and the device(s). Managers form a tree: service base manager, one
 * manager per run ({@link #newRunScope}), one per step ({@link #newStepScope}). Closing a
 * scope frees every array created in it.
 */
public interface TensorService {

    /** The device runs use unless they ask for another. */
    Device device();

    /** The engine name and version, e.g. {@code PyTorch 2.7.1}. */
    String engineDescription();

    /** A manager for one run's long-lived arrays (weights, optimizer state). */
    NDManager newRunScope(String runId);

    /** A manager for one training or evaluation step, child of {@code runScope}. */
    NDManager newStepScope(NDManager runScope);

    /** Native memory in use now. */
    MemoryUsage memory();

    /** Seeds the engine's random generator. */
    void seed(long seed);

    /**
     * Runs {@code body} holding the engine's process-wide state: its random generator, seeded with
     * {@code seed} first, and its gradient collector (the PyTorch engine allows one at a time).
     * Runs sharing a kernel take turns, one body at a time, so each draws exactly the random
     * numbers it would draw alone. {@link #seed} waits for a running body.
     */
    default <T> T exclusive(long seed, Callable<T> body) throws Exception {
        synchronized (this) {
            seed(seed);
            return body.call();
        }
    }
}
