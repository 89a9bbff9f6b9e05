package org.distillery.api.teacher;

import java.util.Optional;

import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;

/** Answers for the teacher; never trained. */
public interface Teacher extends AutoCloseable {

    /** Scores a batch without recording gradients; arrays are created in {@code manager}. */
    TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager);

    /** The teacher's model when it runs in-process (local teachers), for generation. */
    Optional<LanguageModel> model();

    /** An identity recorded in event logs and caches (model folder and weights hash, or endpoint). */
    String identity();

    /** Releases the teacher's resources. */
    @Override
    void close();
}
