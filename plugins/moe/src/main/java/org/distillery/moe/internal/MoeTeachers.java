package org.distillery.moe.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Optional;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;

/**
 * What the MoE teachers share: opening the model folder with errors that name
 * {@code teacher.params.model-dir}, and the in-process model with its identity.
 */
final class MoeTeachers {

    private MoeTeachers() {
    }

    /** A teacher over one in-process MoE model. */
    abstract static class Base implements Teacher {

        /** The teacher's model, owned by the teacher. */
        protected final LanguageModel model;
        private final String identity;

        Base(LanguageModel model, String identity) {
            this.model = model;
            this.identity = identity;
        }

        @Override
        public Optional<LanguageModel> model() {
            return Optional.of(model);
        }

        @Override
        public String identity() {
            return identity;
        }

        @Override
        public void close() {
            model.close();
        }
    }

    /** Loads {@code dir} into the run's manager and checks that it is a sparse MoE model. */
    static LanguageModel load(RunContext run, String dir) {
        String path = "teacher.params.model-dir";
        if (dir.isEmpty()) {
            throw new InvalidConfigException(path, "is required", "\"\"",
                    "a Mixtral or Qwen2-MoE Hugging Face model folder");
        }
        LanguageModel model;
        try {
            model = run.models().load(Path.of(dir), DataType.FLOAT32, run.manager());
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
