package org.distillery.api.loss;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

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
 */
public record LossInput(TokenBatch batch, NDArray studentLogits, List<NDArray> studentHidden,
                        TeacherOutput teacher, List<NDArray> teacherHidden, NDManager manager) {
}
