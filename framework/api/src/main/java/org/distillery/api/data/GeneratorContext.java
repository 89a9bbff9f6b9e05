package org.distillery.api.data;

import java.nio.file.Path;
import java.util.function.BooleanSupplier;

import org.distillery.api.run.RunResources;

/**
 * What a dataset generator may use.
 *
 * @param resources the run's manager, seed, event log and services
 * @param datasets the run's datasets (a generator's input is one of its parameters)
 * @param workDir a folder of the run for the generator's intermediate files
 * @param stop true once the run was asked to stop; a long generator checks it between batches
 * @param paramsPath where the generator's parameters were written, for messages
 */
public record GeneratorContext(RunResources resources, Datasets datasets, Path workDir, BooleanSupplier stop,
                               String paramsPath) {

    /** True once the run was asked to stop. */
    public boolean stopRequested() {
        return stop.getAsBoolean();
    }
}
