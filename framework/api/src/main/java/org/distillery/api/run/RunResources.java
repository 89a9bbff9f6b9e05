package org.distillery.api.run;

import java.util.Random;

import ai.djl.ndarray.NDManager;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.tensor.TensorService;

/**
 * What a run lends the contributions it builds: its long-lived manager, its seed, its event log
 * and the kernel's services. It holds no configuration on purpose: a contribution reads its own
 * {@code params} (and what its context hands it), never the experiment's other blocks.
 */
public interface RunResources {

    /** The run's long-lived manager (weights, optimizer state, learned loss parameters), closed when the run ends. */
    NDManager manager();

    /** The experiment seed. */
    long seed();

    /** A random generator derived from the seed and {@code purpose}, the same in every run with that seed. */
    default Random random(String purpose) {
        return seeded(seed(), purpose);
    }

    /** The run's event log. */
    EventLog events();

    /** The shared tensor service (engine, device, manager scopes, memory). */
    TensorService tensors();

    /** Model loading, creation, saving and decoding. */
    ModelService models();

    /** Dataset reading and writing. */
    DataService data();

    /** The contribution registry, for contributions that compose others by key. */
    ContributionRegistry registry();

    /** The generator of {@link #random(String)}: the same seed and purpose give the same sequence. */
    static Random seeded(long seed, String purpose) {
        return new Random(seed * 0x9E3779B97F4A7C15L ^ purpose.hashCode());
    }
}
