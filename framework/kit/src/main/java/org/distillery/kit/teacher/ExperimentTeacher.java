package org.distillery.kit.teacher;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalInt;

import com.typesafe.config.Config;

import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.ModelService;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;

/**
 * The teacher side of an experiment as a trainer sees it (its {@code RunContext#config()}): where
 * the run's tokenizer comes from and the teacher its {@code teacher} block names. The built-in
 * {@code train.kd} and {@code eval.report} open their teacher this way; a bundle's own trainer (a
 * data stage in which the teacher writes responses, say) opens the same one:
 *
 * <pre>
 * Tokenizer tok = ExperimentTeacher.tokenizer(run.models(), run.config());
 * try (Teacher teacher = ExperimentTeacher.open(run, run.config(), tok, maxLength, sharedDir)) {
 *     LanguageModel model = teacher.model().orElseThrow(...);     // in-process teachers only
 * }
 * </pre>
 */
public final class ExperimentTeacher {

    private static final String[] TOKENIZER_SOURCES = {"tokenizer.dir", "teacher.params.model-dir",
        "teacher.params.verify-teacher-dir", "student.model-dir"};

    private ExperimentTeacher() {
    }

    /**
     * The folder the run's tokenizer comes from: {@code tokenizer.dir}, else the teacher's model
     * folder ({@code model-dir}, or {@code verify-teacher-dir} of a cached teacher), else the
     * student's; {@code null} when none is set.
     */
    public static Path tokenizerDir(Config experiment) {
        for (String path : TOKENIZER_SOURCES) {
            if (experiment.hasPath(path) && !experiment.getString(path).isEmpty()) {
                return Path.of(experiment.getString(path));
            }
        }
        return null;
    }

    /**
     * The run's tokenizer, without its bos when {@code tokenizer.add-bos = false} (LMOps encodes GPT-2
     * prompts without special tokens); fails naming {@code tokenizer.dir} when there is none or it
     * cannot be read.
     */
    public static Tokenizer tokenizer(ModelService models, Config experiment) {
        Path dir = tokenizerDir(experiment);
        if (dir == null) {
            throw new InvalidConfigException("tokenizer.dir", "no tokenizer: set tokenizer.dir, teacher.params.model-dir "
                    + "or student.model-dir", "\"\"", "a folder with tokenizer.json or tokenizer_config.json");
        }
        try {
            Tokenizer tok = models.tokenizer(dir);
            boolean addBos = !experiment.hasPath("tokenizer.add-bos") || experiment.getBoolean("tokenizer.add-bos");
            return addBos || tok.bosId().isEmpty() ? tok : new WithoutBos(tok);
        } catch (IOException | RuntimeException e) {
            throw new InvalidConfigException("tokenizer.dir", "cannot load the tokenizer: " + e.getMessage(),
                    dir.toString(), "a folder with tokenizer.json or tokenizer_config.json");
        }
    }

    /**
     * Opens the teacher the {@code teacher} block names, or returns {@code null} when its key is empty.
     *
     * @param resources the run's resources
     * @param experiment the experiment as the stage sees it
     * @param tokenizer the run's tokenizer
     * @param maxLength the stage's maximum tokens per sequence
     * @param sharedDir where teachers keep what several runs share (the folder of the run directories)
     */
    public static Teacher open(RunResources resources, Config experiment, Tokenizer tokenizer, int maxLength,
                               Path sharedDir) {
        Config t = experiment.getConfig("teacher");
        String key = t.getString("key");
        if (key.isEmpty()) {
            return null;
        }
        ContributionRegistry registry = resources.registry();
        var c = registry.find(ContributionKind.TEACHER, key, TeacherFactory.class)
                .orElseThrow(() -> new InvalidConfigException("teacher.key", "no registered teacher", key,
                        String.join(", ", registry.list(ContributionKind.TEACHER).stream().map(i -> i.key()).toList())));
        TeacherContext context = new TeacherContext(resources, tokenizer, tokenizerDir(experiment), maxLength, sharedDir,
                "teacher.params");
        return c.factory().open(context, t.getConfig("params").withFallback(c.defaults()));
    }

    /** A tokenizer that declares no beginning-of-sequence id, so records are encoded without one. */
    private record WithoutBos(Tokenizer tokenizer) implements Tokenizer {
        @Override
        public int[] encode(String text) {
            return tokenizer.encode(text);
        }

        @Override
        public String decode(int[] ids) {
            return tokenizer.decode(ids);
        }

        @Override
        public int vocabSize() {
            return tokenizer.vocabSize();
        }

        @Override
        public int eosId() {
            return tokenizer.eosId();
        }

        @Override
        public int padId() {
            return tokenizer.padId();
        }

        @Override
        public OptionalInt bosId() {
            return OptionalInt.empty();
        }

        @Override
        public String fingerprint() {
            return tokenizer.fingerprint();
        }

        @Override
        public String applyChatTemplate(List<ChatTurn> turns, boolean addGenerationPrompt) {
            return tokenizer.applyChatTemplate(turns, addGenerationPrompt);
        }
    }
}
