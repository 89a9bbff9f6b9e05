package org.distillery.api.teacher;

import java.util.Optional;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;

/**
 * Answers for the teacher. A teacher is frozen as far as the student's optimiser goes; a
 * teacher that adapts itself during a run (Student-Aware Routing updates its router) keeps that
 * state through {@link #saveState} and {@link #restoreState}, which the trainer calls with
 * every checkpoint so a resumed run continues from the same teacher.
 */
public interface Teacher extends AutoCloseable {

    /** Scores a batch without recording gradients; arrays are created in {@code manager}. */
    TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager);

    /** The teacher's model when it runs in-process (local teachers), for generation. */
    Optional<LanguageModel> model();

    /** An identity recorded in event logs and caches (model folder and weights hash, or endpoint). */
    String identity();

    /**
     * Called once by the trainer with the student it trains, before the first step. A teacher
     * whose answers depend on the student (for example one that adapts to it) keeps the reference.
     */
    default void attachStudent(LanguageModel student) {
    }

    /** Writes whatever the teacher changed during the run into {@code dir} (a checkpoint folder). */
    default void saveState(java.nio.file.Path dir) throws java.io.IOException {
    }

    /** Restores what {@link #saveState} wrote; called on resume before the first step. */
    default void restoreState(java.nio.file.Path dir) throws java.io.IOException {
    }

    /** Releases the teacher's resources. */
    @Override
    void close();
}
