package org.distillery.api.model;

import java.nio.file.Path;

import org.distillery.api.data.Datasets;
import org.distillery.api.run.RunResources;

/**
 * What a student initialiser may use.
 *
 * @param resources the run's manager, seed, event log and services
 * @param datasets the run's datasets (e.g. calibration records)
 * @param tokenizer the run's tokenizer
 * @param tokenizerDir the folder the tokenizer was loaded from, or {@code null}
 * @param workDir a folder of the run for what the initialiser writes (e.g. the student it built)
 * @param paramsPath where the initialiser's parameters were written, for messages
 */
public record InitializerContext(RunResources resources, Datasets datasets, Tokenizer tokenizer, Path tokenizerDir,
                                 Path workDir, String paramsPath) {
}
