package org.distillery.moe.internal;

import java.io.IOException;
import java.nio.file.Path;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.TeacherContext;

/** What the MoE teachers share: opening the model folder with errors that name its parameter. */
final class MoeTeachers {

    private MoeTeachers() {
    }

    /** Loads {@code dir} into the run's manager and checks that it is a sparse MoE model. */
    static LanguageModel load(TeacherContext context, String dir) {
        String path = context.paramsPath() + ".model-dir";
        if (dir.isEmpty()) {
            throw new InvalidConfigException(path, "is required", "\"\"",
                    "a Mixtral or Qwen2-MoE Hugging Face model folder");
        }
        LanguageModel model;
        try {
            model = context.resources().models().load(Path.of(dir), DataType.FLOAT32, context.resources().manager());
        } catch (IOException | RuntimeException e) {
            throw new InvalidConfigException(path, e.getMessage(), dir, "a loadable Hugging Face model folder");
        }
        if (!MoeLayout.supports(model.config())) {
            String type = model.config().modelType();
            model.close();
            throw new InvalidConfigException(path, "is not a sparse MoE model", type + " at " + dir,
                    String.join(", ", MoeLayout.SUPPORTED));
        }
        return model;
    }
}
