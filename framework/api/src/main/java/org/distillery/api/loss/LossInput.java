package org.distillery.api.loss;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.training.GradientCollector;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.Logits;
import org.distillery.api.teacher.TeacherOutput;

/**
 * What a loss sees for one micro-batch.
 *
 * <p>The student's logits come as a {@link Logits} view: materialised, or fused (the final hidden
 * states and the output head) when the trainer runs the model without its head. A loss that reads
 * them through the kit's {@code Chunks} gets both paths from the same code; {@link #studentLogits()}
 * materialises fused logits for a loss that needs all of them at once (the automatic fallback).
 *
 * @param batch the tokens, targets and loss mask
 * @param logits the student's logits [batch, seq, vocab], materialised or fused
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
public record LossInput(TokenBatch batch, Logits logits, List<NDArray> studentHidden, TeacherOutput teacher,
                        List<NDArray> teacherHidden, NDManager manager, GradientCollector gradients) {

    /** An input over materialised student logits [batch, seq, vocab]. */
    public LossInput(TokenBatch batch, NDArray studentLogits, List<NDArray> studentHidden, TeacherOutput teacher,
                     List<NDArray> teacherHidden, NDManager manager, GradientCollector gradients) {
        this(batch, Logits.of(studentLogits), studentHidden, teacher, teacherHidden, manager, gradients);
    }

    /** An input over materialised student logits without a gradient collector (evaluation, benchmarks, tests of values). */
    public LossInput(TokenBatch batch, NDArray studentLogits, List<NDArray> studentHidden,
                     TeacherOutput teacher, List<NDArray> teacherHidden, NDManager manager) {
        this(batch, studentLogits, studentHidden, teacher, teacherHidden, manager, null);
    }

    /**
     * The student's logits [batch, seq, vocab] as one array. On fused logits this materialises them
     * (once per input; the memory of the unfused path): read them through {@code Chunks} instead
     * where the loss can.
     */
    public NDArray studentLogits() {
        return logits.full();
    }

    /** The same input for another batch view (e.g. another loss mask), keeping everything else. */
    public LossInput withBatch(TokenBatch other) {
        return new LossInput(other, logits, studentHidden, teacher, teacherHidden, manager, gradients);
    }

    /** The same input with another teacher output (e.g. one of its logit samples). */
    public LossInput withTeacher(TeacherOutput other) {
        return new LossInput(batch, logits, studentHidden, other, teacherHidden, manager, gradients);
    }
}
