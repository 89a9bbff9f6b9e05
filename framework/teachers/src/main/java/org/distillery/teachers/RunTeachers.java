package org.distillery.teachers;

import java.nio.file.Path;

import com.typesafe.config.Config;

import org.distillery.api.model.ModelService;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.api.teacher.Teacher;
import org.distillery.kit.teacher.ExperimentTeacher;

/**
 * The teacher side of a stage, read from the experiment as the stage sees it (a variant's own
 * {@code teacher} block laid over the experiment's): where the run's tokenizer comes from, and the
 * teacher the {@code teacher} block names. The logic is the kit's {@link ExperimentTeacher}, which
 * bundles' own trainers use too.
 */
public final class RunTeachers {

    private RunTeachers() {
    }

    /** See {@link ExperimentTeacher#tokenizerDir}. */
    public static Path tokenizerDir(Config experiment) {
        return ExperimentTeacher.tokenizerDir(experiment);
    }

    /** See {@link ExperimentTeacher#tokenizer}. */
    public static Tokenizer tokenizer(ModelService models, Config experiment) {
        return ExperimentTeacher.tokenizer(models, experiment);
    }

    /** See {@link ExperimentTeacher#open}. */
    public static Teacher open(RunResources resources, Config experiment, Tokenizer tokenizer, int maxLength,
                               Path sharedDir) {
        return ExperimentTeacher.open(resources, experiment, tokenizer, maxLength, sharedDir);
    }
}
