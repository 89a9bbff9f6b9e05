package org.distillery.kernel.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import com.typesafe.config.Config;

import org.distillery.api.model.ModelService;
import org.distillery.api.model.Tokenizer;

/**
 * Catches a teacher/student vocabulary mismatch before any tensor work: different vocabulary
 * sizes, or different tokenizers, unless {@code tokenizer.vocab-policy = truncate-teacher} and the
 * teacher's vocabulary extends the student's (same text for every shared id).
 */
public final class VocabCheck {

    /** Accepted values of {@code tokenizer.vocab-policy}. */
    public static final List<String> POLICIES = List.of("error", "truncate-teacher");

    private VocabCheck() {
    }

    /** Returns the problems found (empty when consistent or when there is nothing to compare). */
    public static List<String> problems(Config experiment, ModelService models) {
        String policy = experiment.getString("tokenizer.vocab-policy");
        if (!POLICIES.contains(policy)) {
            return List.of("tokenizer.vocab-policy: unknown policy (got " + policy + "; accepted: "
                    + String.join(", ", POLICIES) + ")");
        }
        Optional<Path> teacherDir = modelDir(experiment, "teacher.params.model-dir");
        if (!experiment.getString("teacher.key").equals("teacher.local") || teacherDir.isEmpty()) {
            return List.of();
        }
        Optional<Path> studentDir = modelDir(experiment, "student.model-dir");
        try {
            int teacherVocab = models.readConfig(teacherDir.get()).vocabSize();
            int studentVocab;
            String studentWhere;
            if (studentDir.isPresent()) {
                studentVocab = models.readConfig(studentDir.get()).vocabSize();
                studentWhere = "student.model-dir=" + studentDir.get();
            } else if (experiment.hasPath("student.config.vocab_size")) {
                studentVocab = experiment.getInt("student.config.vocab_size");
                studentWhere = "student.config.vocab_size";
            } else if (experiment.getBoolean("student.inherit-teacher-config")
                    && experiment.getString("student.initializer.key").isEmpty()) {
                studentVocab = teacherVocab;
                studentWhere = "inherited from the teacher";
            } else {
                return List.of();
            }
            String sizes = "teacher has " + teacherVocab + " ids (teacher.params.model-dir=" + teacherDir.get()
                    + "), student " + studentVocab + " (" + studentWhere + ")";
            if (teacherVocab != studentVocab) {
                if (policy.equals("error")) {
                    return List.of("tokenizer.vocab-policy: vocabulary sizes differ: " + sizes + " (accepted: equal sizes, "
                            + "or tokenizer.vocab-policy = truncate-teacher when the teacher's vocabulary extends the "
                            + "student's)");
                }
                if (teacherVocab < studentVocab) {
                    return List.of("tokenizer.vocab-policy: truncate-teacher needs the larger vocabulary on the teacher: "
                            + sizes);
                }
            }
            Optional<Path> studentTok = studentDir.filter(VocabCheck::hasTokenizer)
                    .or(() -> modelDir(experiment, "tokenizer.dir").filter(VocabCheck::hasTokenizer));
            if (studentTok.isPresent() && hasTokenizer(teacherDir.get())
                    && !studentTok.get().normalize().equals(teacherDir.get().normalize())) {
                Tokenizer t = models.tokenizer(teacherDir.get());
                Tokenizer s = models.tokenizer(studentTok.get());
                if (!t.fingerprint().equals(s.fingerprint())) {
                    int shared = Math.min(studentVocab, Math.min(t.vocabSize(), s.vocabSize()));
                    for (int id = 0; id < shared; id++) {
                        String a = t.decode(new int[] {id});
                        String b = s.decode(new int[] {id});
                        if (!a.equals(b)) {
                            return List.of("tokenizer.dir: teacher and student tokenizers differ at id " + id
                                    + " (teacher \"" + a + "\", student \"" + b + "\"; accepted: the same tokenizer, "
                                    + "or one whose vocabulary extends the other's with tokenizer.vocab-policy = "
                                    + "truncate-teacher)");
                        }
                    }
                }
            }
            return List.of();
        } catch (IOException | RuntimeException e) {
            return List.of("teacher.params.model-dir: cannot read the model: " + e.getMessage());
        }
    }

    private static Optional<Path> modelDir(Config c, String path) {
        if (!c.hasPath(path) || c.getString(path).isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(Path.of(c.getString(path)));
    }

    private static boolean hasTokenizer(Path dir) {
        return Files.exists(dir.resolve("tokenizer.json")) || Files.exists(dir.resolve("tokenizer_config.json"));
    }
}
