package org.distillery.api.merge;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What a merge produced.
 *
 * @param model the merged model folder
 * @param weights the effective coefficient of each input model, in input order (for SLERP and TIES the
 *     interpolation factor or task-vector weight each model received)
 * @param details what else the merger wants recorded: losses, temperature, per-tensor statistics, ...
 */
public record MergeResult(Path model, List<Double> weights, Map<String, Object> details) {

    /** Immutable lists and maps; details keep their order. */
    public MergeResult {
        weights = List.copyOf(weights);
        details = Collections.unmodifiableMap(new LinkedHashMap<>(details));
    }
}
