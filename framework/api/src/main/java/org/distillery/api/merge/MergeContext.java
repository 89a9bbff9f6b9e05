package org.distillery.api.merge;

import java.nio.file.Path;
import java.util.List;

import org.distillery.api.data.Datasets;
import org.distillery.api.run.RunResources;

/**
 * What a merger may use.
 *
 * @param resources the run's (or the command's) manager, seed, services and registry
 * @param datasets the datasets a merger's parameters may name (e.g. LM-Cocktail's target examples)
 * @param models the input model folders, in the order the caller gave them
 * @param output the folder to create; it must not exist yet, and appears only when complete
 * @param paramsPath where the merger's parameters were written, for messages
 *     (e.g. {@code method.params.merges[0].merger.params}, or {@code distill merge})
 * @param modelsPath where the input folders were named, for messages (e.g. {@code models})
 */
public record MergeContext(RunResources resources, Datasets datasets, List<Path> models, Path output,
                           String paramsPath, String modelsPath) {

    /** Never {@code null} lists or paths. */
    public MergeContext {
        models = List.copyOf(models);
        paramsPath = paramsPath == null ? "" : paramsPath;
        modelsPath = modelsPath == null ? "models" : modelsPath;
    }
}
