package org.distillery.api.loss;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.teacher.TeacherOutput;

/**
 * What a loss sees for one micro-batch.
 *
 * @param batch the tokens, targets and loss mask
 * @param studentLogits [batch, seq, vocab]
 * @param studentHidden the student's hidden states, empty unless {@link Loss.Need#STUDENT_HIDDEN}
 * @param teacher the teacher's output, or {@code null} unless {@link Loss.Need#TEACHER_LOGITS}
 * @param teacherHidden the teacher's hidden states, empty unless {@link Loss.Need#TEACHER_HIDDEN}
 * @param manager the step's manager
 * @param gradients the step's gradient collector while training, or {@code null} (evaluation,
 *     benchmarks). A loss over [batch, seq, vocab] logits may use it to take each chunk's
 *     gradient with respect to a detached copy of the chunk right away, so that no chunk's
 *     intermediates wait for the step's backward pass; it must not call it on anything that
 *     reaches the models' parameters.
 */
public record LossInput(TokenBatch batch, NDArray studentLogits, List<NDArray> studentHidden,
                        TeacherOutput teacher, List<NDArray> teacherHidden, NDManager manager,
                        GradientCollector gradients) {

    /** An input without a gradient collector (evaluation, benchmarks, tests of values). */
    public LossInput(TokenBatch batch, NDArray studentLogits, List<NDArray> studentHidden,
                     TeacherOutput teacher, List<NDArray> teacherHidden, NDManager manager) {
        this(batch, studentLogits, studentHidden, teacher, teacherHidden, manager, null);
    }

    /** The same input for another batch view (e.g. another loss mask), keeping everything else. */
    public LossInput withBatch(TokenBatch other) {
        return new LossInput(other, studentLogits, studentHidden, teacher, teacherHidden, manager, gradients);
    }

    /** The same input with another teacher output (e.g. one of its logit samples). */
    public LossInput withTeacher(TeacherOutput other) {
        return new LossInput(batch, studentLogits, studentHidden, other, teacherHidden, manager, gradients);
    }
}
