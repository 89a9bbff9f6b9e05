package org.distillery.teachers;

import java.io.IOException;
import java.nio.file.Path;

import com.typesafe.config.Config;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.kit.teacher.ModelTeacher;

/** {@code teacher.local}: a Hugging Face model folder loaded in-process, scored without gradients. */
public final class LocalTeacher extends ModelTeacher {

    /** Registry key. */
    public static final String KEY = "teacher.local";

    LocalTeacher(LanguageModel model, String identity) {
        super(model, identity);
    }

    /** The factory. */
    public static final class Factory implements TeacherFactory {

        @Override
        public String description() {
            return "a Hugging Face model folder loaded in-process";
        }

        @Override
        public Teacher open(TeacherContext context, Config params) {
            String where = context.paramsPath() + ".model-dir";
            String dir = params.getString("model-dir");
            if (dir.isEmpty()) {
                throw new InvalidConfigException(where, "is required", "\"\"",
                        "a Hugging Face model folder with config.json and model.safetensors");
            }
            try {
                LanguageModel m = context.resources().models().load(Path.of(dir), DataType.FLOAT32,
                        context.resources().manager());
                return new LocalTeacher(m, "local:" + Path.of(dir).toAbsolutePath().normalize());
            } catch (IOException e) {
                throw new InvalidConfigException(where, e.getMessage(), dir, "a loadable Hugging Face model folder");
            }
        }
    }
}
