package org.distillery.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.google.gson.GsonBuilder;
import com.typesafe.config.Config;

import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.InitializerContext;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.eval.EvalReportTrainer;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.teachers.RunTeachers;

/**
 * Builds the student from the {@code student} block of the experiment as a stage sees it: an
 * initialiser contribution, weights from {@code model-dir}, or a random model whose
 * {@code config.json} is the teacher's (when {@code inherit-teacher-config}) overlaid with
 * {@code student.config}, written into the run directory so the run documents its student.
 */
public final class StudentModels {

    private StudentModels() {
    }

    /** Creates the student in the run's manager. */
    public static LanguageModel create(RunContext run, Config experiment, Teacher teacher, Tokenizer tokenizer)
            throws IOException {
        Config s = experiment.getConfig("student");
        String initializer = s.getString("initializer.key");
        if (!initializer.isEmpty()) {
            var c = run.registry().find(ContributionKind.MODEL_INITIALIZER, initializer, ModelInitializerFactory.class)
                    .orElseThrow(() -> new InvalidConfigException("student.initializer.key", "no registered initializer",
                            initializer, String.join(", ", run.registry().list(ContributionKind.MODEL_INITIALIZER)
                                    .stream().map(i -> i.key()).toList())));
            LanguageModel teacherModel = (teacher == null ? java.util.Optional.<LanguageModel>empty() : teacher.model())
                    .orElseThrow(() -> new InvalidConfigException("student.initializer.key",
                            "needs an in-process teacher", initializer, "teacher.local"));
            InitializerContext context = new InitializerContext(run, run.datasets(), tokenizer,
                    RunTeachers.tokenizerDir(experiment), run.runDir().resolve("student-init"),
                    "student.initializer.params");
            return c.factory().create(s.getConfig("initializer.params").withFallback(c.defaults()))
                    .initialize(context, teacherModel);
        }
        String dir = s.getString("model-dir");
        if (!dir.isEmpty()) {
            return run.models().load(Path.of(dir), DataType.FLOAT32, run.manager());
        }
        Map<String, Object> raw = new LinkedHashMap<>();
        if (s.getBoolean("inherit-teacher-config") && teacher != null && teacher.model().isPresent()) {
            raw.putAll(teacher.model().get().config().raw());
        }
        raw.putAll(s.getConfig("config").root().unwrapped());
        if (!raw.containsKey("model_type")) {
            throw new InvalidConfigException("student.config.model_type", "is missing", null,
                    "gpt2, llama, qwen2, mistral, mixtral, qwen2_moe (or set student.model-dir)");
        }
        Path initDir = run.runDir().resolve("student-init");
        Files.createDirectories(initDir);
        AtomicFiles.writeString(initDir.resolve("config.json"),
                new GsonBuilder().setPrettyPrinting().create().toJson(raw));
        ModelConfig config;
        try {
            config = run.models().readConfig(initDir);
        } catch (IOException | IllegalArgumentException e) {
            throw new InvalidConfigException("student.config", e.getMessage(), raw.toString(), "a valid config.json");
        }
        return run.models().create(config, run.seed(), run.manager());
    }

    /**
     * Loads the model an earlier stage of this run handed on (the {@code model} of its
     * {@code result.json}: the best or the final checkpoint, as that stage's select-best says).
     */
    public static LanguageModel fromStage(RunContext run, String stage) throws IOException {
        Path result = run.runDir().resolve("stages").resolve(stage).resolve("result.json");
        if (!Files.exists(result)) {
            throw new InvalidConfigException("train.init-from-stage", "no finished stage of that name in this run "
                    + "(stages run in order; it must come earlier)", stage, "the name of an earlier stage");
        }
        Path model;
        try {
            model = EvalReportTrainer.stageModel(run, stage);
        } catch (IllegalStateException e) {
            throw new InvalidConfigException("train.init-from-stage", "that stage handed on no model", stage,
                    "a training stage");
        }
        return run.models().load(model, DataType.FLOAT32, run.manager());
    }
}
