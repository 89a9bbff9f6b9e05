package org.distillery.kernel.config;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

import org.distillery.api.model.ModelService;
import org.distillery.models.HfModelService;

/**
 * Checks, before a run directory is created, that the model folders an experiment (or one of its
 * stages) names would load: config, weight headers, every parameter with its shape and dtype, no
 * tensor data read. A corrupt teacher then fails {@code distill run} with exit code 2 instead of a
 * run directory that stops when the stage opens it.
 */
public final class ModelFolderCheck {

    /** The config paths holding model folders the built-in trainer loads. */
    public static final List<String> PATHS = List.of("teacher.params.model-dir", "student.model-dir");

    private ModelFolderCheck() {
    }

    /** The problems found, each naming the config path, the folder and what is wrong; empty when all would load. */
    public static List<String> problems(Config experiment, ModelService models) {
        List<String> out = new ArrayList<>();
        for (String path : PATHS) {
            if (!experiment.hasPath(path) || experiment.getString(path).isEmpty()) {
                continue;
            }
            Path dir = Path.of(experiment.getString(path));
            try {
                if (models instanceof HfModelService hf) {
                    hf.inspect(dir);
                } else {
                    models.readConfig(dir);
                }
            } catch (IOException | RuntimeException e) {
                out.add(path + ": the model folder cannot be loaded: " + e.getMessage() + " (got " + dir
                        + "; accepted: a Hugging Face model folder with a valid config.json and safetensors weights)");
            }
        }
        return out;
    }
}
