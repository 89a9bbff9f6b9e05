package org.distillery.surgery.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.gson.GsonBuilder;
import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.WeightWriter;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.io.ModelFiles;

/**
 * Writes a merged model folder: the first input's {@code config.json}, tokenizer and generation files,
 * {@code model.safetensors} with the first input's tensor names, types and shapes (floating tensors
 * merged one at a time, integer buffers copied from the first input), and {@code merge.json} recording
 * the method, inputs, weights and parameters. Everything goes into a staging folder beside the output,
 * which is renamed into place at the end: the output appears complete or not at all.
 */
final class MergeOutput {

    /** The merge of one floating-point tensor, in float32. */
    @FunctionalInterface
    interface TensorMerge {
        /** Merges tensor {@code name} of the inputs in {@code manager} (a scope closed after the tensor is written). */
        NDArray merge(String name, MergeInputs inputs, NDManager manager) throws IOException;
    }

    private MergeOutput() {
    }

    /**
     * Writes the merge of {@code inputs} into {@code context.output()}.
     *
     * @param key the merger's registry key, recorded in {@code merge.json}
     * @param params the merger's parameters, recorded
     * @param weights the effective weight of each input, recorded and returned
     * @param details what else the merger records (losses, temperature, ...)
     */
    static MergeResult write(MergeContext context, MergeInputs inputs, TensorMerge merge, String key, Config params,
                             List<Double> weights, Map<String, Object> details) throws IOException {
        Path output = context.output().toAbsolutePath().normalize();
        if (Files.exists(output)) {
            throw new IOException(output + " exists; a merge never writes over an existing folder");
        }
        Path first = inputs.dirs().get(0);
        Path staging = AtomicFiles.staging(output);
        boolean committed = false;
        try {
            Files.copy(first.resolve("config.json"), staging.resolve("config.json"));
            ModelFiles.copyTokenizerAndGeneration(first, staging);
            List<TensorInfo> tensors = inputs.tensors();
            try (WeightWriter w = context.resources().models().writeWeights(staging.resolve("model.safetensors"),
                    tensors)) {
                for (TensorInfo t : tensors) {
                    if (!t.dataType().isFloating()) {
                        w.writeBytes(t.name(), inputs.firstBytes(t.name()));
                        continue;
                    }
                    try (NDManager scope = context.resources().manager().newSubManager()) {
                        w.write(t.name(), merge.merge(t.name(), inputs, scope));
                    }
                }
                w.finish();
            }
            Map<String, Object> record = new LinkedHashMap<>();
            record.put("method", key);
            record.put("architecture", inputs.modelType());
            record.put("models", inputs.dirs().stream().map(Path::toString).toList());
            record.put("weights", weights);
            record.put("details", details);
            record.put("params", params.root().unwrapped());
            AtomicFiles.writeString(staging.resolve("merge.json"), new GsonBuilder().setPrettyPrinting()
                    .serializeSpecialFloatingPointValues().disableHtmlEscaping().create().toJson(record) + "\n");
            AtomicFiles.commit(staging, output);
            committed = true;
        } finally {
            if (!committed) {
                AtomicFiles.deleteTree(staging);
            }
        }
        return new MergeResult(output, weights, details);
    }
}
