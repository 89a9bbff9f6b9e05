package org.distillery.example.internal;

import java.util.EnumSet;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.Logits;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;

/**
 * {@code example.logit-mse}: logit matching, the mean squared error between the student's and the
 * teacher's logits (Ba and Caruana, "Do Deep Nets Really Need to be Deep?", NeurIPS 2014).
 *
 * <p>Formula, at each counted position with student logits z_S and teacher logits z_T over V
 * vocabulary entries (each centred on its mean when {@code center}, since softmax ignores a
 * constant shift):
 * <pre>  L = (1/V) Σ_v (z_S(v) − z_T(v))²</pre>
 * summed over the counted positions; the trainer divides by the loss tokens of the batch. Needs
 * the teacher's full logits (a local teacher), not a cached top-k.
 *
 * <p>Defaults: {@code center = true}, {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = "example.logit-mse", weight = 1.0, params { center = true } } ]
 * </pre>
 */
final class LogitMseLoss implements Loss {

    /** Registry key. */
    static final String KEY = "example.logit-mse";

    private final boolean center;
    private final int chunkSize;

    LogitMseLoss(boolean center, int chunkSize) {
        this.center = center;
        this.chunkSize = chunkSize;
    }

    @Override
    public Set<Need> needs() {
        return EnumSet.of(Need.TEACHER_LOGITS);
    }

    @Override
    public LossValue compute(LossInput input) {
        TeacherOutput teacher = input.teacher();
        if (teacher == null || !teacher.hasLogits()) {
            throw new IllegalArgumentException(KEY + " needs the teacher's full logits (teacher.local), "
                    + "not a cached or remote top-k");
        }
        NDArray mask = input.batch().lossMask();
        Logits teacherLogits = teacher.logitsView();
        // Chunks: one chunk of positions at a time, each differentiated at once on detached inputs;
        // with a fused output layer each chunk's logits are computed from the hidden states
        NDArray sum = Chunks.sum(input.logits(), chunkSize, input, (chunk, positions, student) -> {
            NDArray t = Chunks.slice(teacherLogits, positions, chunk);
            NDArray s = student;
            if (center) {
                s = s.sub(s.mean(new int[] {-1}, true));
                t = t.sub(t.mean(new int[] {-1}, true));
            }
            NDArray perPosition = s.sub(t).square().mean(new int[] {-1});
            return perPosition.mul(Chunks.slice(mask, positions, chunk)).sum();
        });
        return new LossValue(sum, Chunks.count(mask));
    }

    /** Builds {@link LogitMseLoss} from {@code center} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "mean squared error between student and teacher logits (Ba and Caruana 2014)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new LogitMseLoss(p.bool("center"), p.integer("chunk-size", 1));
        }
    }
}
