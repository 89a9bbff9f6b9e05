package org.distillery.train;

import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;

/** A plain cross-entropy loss for trainer tests (kd-core's live in a bundle). */
final class CrossEntropy implements LossFactory {

    /** Managers the loss was handed, one per call: the trainer must give each step its own scope. */
    final java.util.List<ai.djl.ndarray.NDManager> managers = new java.util.ArrayList<>();
    /** The step clock's {step, totalSteps} at each call. */
    final java.util.List<long[]> clock = new java.util.ArrayList<>();

    @Override
    public String description() {
        return "test cross-entropy";
    }

    @Override
    public Loss create(LossContext context, Config params) {
        return new Loss() {
            @Override
            public Set<Need> needs() {
                return Set.of();
            }

            @Override
            public LossValue compute(LossInput in) {
                managers.add(in.manager());
                clock.add(new long[] {context.clock().step(), context.clock().totalSteps()});
                NDArray logp = in.studentLogits().logSoftmax(-1);
                NDArray picked = logp.gather(in.batch().targets().expandDims(-1), -1).squeeze(-1);
                NDArray mask = in.batch().lossMask();
                return new LossValue(picked.mul(mask).sum().neg(), (long) mask.sum().getFloat());
            }
        };
    }
}
