package org.distillery.minillm.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.NextTokenHook;

/**
 * MiniLLM's teacher-mixed sampling distribution p̃ = α·p + (1−α)·q (softmax in fp32). A teacher
 * with a larger vocabulary (allowed by {@code tokenizer.vocab-policy = truncate-teacher}) is cut
 * to the student's first entries, as the trainer does for the losses. No gradients flow here.
 */
final class MixedHook implements NextTokenHook {

    private final float alpha;

    MixedHook(double alpha) {
        this.alpha = (float) alpha;
    }

    @Override
    public NDArray distribution(int step, NDArray studentLogits, NDArray teacherLogits) {
        long vocab = studentLogits.getShape().get(1);
        NDArray t = teacherLogits;
        if (t.getShape().get(1) > vocab) {
            t = t.get(":, :" + vocab);
        } else if (t.getShape().get(1) < vocab) {
            throw new IllegalStateException("the teacher's vocabulary (" + t.getShape().get(1)
                    + ") is smaller than the student's (" + vocab + ")");
        }
        NDArray q = studentLogits.toType(DataType.FLOAT32, false).softmax(-1);
        NDArray p = t.toType(DataType.FLOAT32, false).softmax(-1);
        return p.mul(alpha).add(q.mul(1f - alpha));
    }
}
