package org.distillery.kdcore.internal;

import java.util.Set;

import com.typesafe.config.Config;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.loss.LossContext;

/**
 * {@code kd.sft}: supervised fine-tuning, the cross-entropy of the student on the reference
 * tokens (the "SFT w/o KD" baseline of MiniLLM, arXiv 2306.08543), with optional label
 * smoothing (Szegedy et al., "Rethinking the Inception Architecture", arXiv 1512.00567).
 *
 * <p>Formula, at each counted position with q = softmax(z_S) and target y:
 * <pre>  L = (1−ε) · (−log q(y)) + ε · mean_v(−log q(v))</pre>
 * No temperature: the targets are hard labels. See {@link TokenCrossEntropy} for ±inf logits.
 *
 * <p>Defaults: {@code label-smoothing = 0.0} (must be in [0, 1)), {@code chunk-size = 64}.
 * <pre>
 * loss = [ { key = "kd.sft", weight = 1.0, params { label-smoothing = 0.1 } } ]
 * </pre>
 */
final class SftLoss implements Loss {

    /** Registry key. */
    static final String KEY = "kd.sft";

    private final TokenCrossEntropy crossEntropy;

    SftLoss(double labelSmoothing, int chunkSize) {
        this.crossEntropy = new TokenCrossEntropy(labelSmoothing, chunkSize);
    }

    @Override
    public Set<Need> needs() {
        return Set.of();
    }

    @Override
    public LossValue compute(LossInput input) {
        return crossEntropy.compute(input);
    }

    /** Builds {@link SftLoss} from {@code label-smoothing} and {@code chunk-size}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "cross-entropy on the reference tokens (SFT), optional label smoothing";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new SftLoss(p.fraction("label-smoothing"),
                    p.integer("chunk-size", 1));
        }
    }
}
