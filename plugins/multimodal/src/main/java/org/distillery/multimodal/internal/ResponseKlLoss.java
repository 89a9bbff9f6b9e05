package org.distillery.multimodal.internal;

import java.util.EnumSet;
import java.util.Set;

import com.typesafe.config.Config;

import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.kit.loss.RegisteredLoss;

/**
 * {@code mm.response-kl}: LLaVA-KD's MDist on the response tokens (Cai et al., arXiv 2410.16236;
 * L_res of the training code's {@code compute_loss}): the token-mean divergence D(p_T ‖ q_S) of
 * the next-token distributions at the response positions, the shifted logits where the labels
 * count (the batch's loss mask):
 * <pre>  L_res = (1 / N_res) Σ_{t ∈ response} D(p_T(·|x, y_&lt;t) ‖ q_S(·|x, y_&lt;t))</pre>
 * D is any registered divergence ({@code divergence}, default kd-core's {@code kd.forward-kl}, the
 * code's KL at τ = 1), sharing {@code divergence-params} with {@code mm.visual-kl}.
 * <pre>
 * loss = [ { key = mm.response-kl, weight = 1.0, params { divergence = kd.forward-kl } } ]
 * </pre>
 */
final class ResponseKlLoss implements Loss {

    /** Registry key. */
    static final String KEY = "mm.response-kl";

    private final RegisteredLoss divergence;

    ResponseKlLoss(RegisteredLoss divergence) {
        this.divergence = divergence;
    }

    @Override
    public Set<Need> needs() {
        Set<Need> needs = EnumSet.of(Need.TEACHER_LOGITS);
        needs.addAll(divergence.get().needs());
        return needs;
    }

    @Override
    public LossValue compute(LossInput input) {
        return divergence.get().compute(input);
    }

    /** The factory. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "LLaVA-KD MDist on response tokens: a registered divergence at the shifted response positions";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            return new ResponseKlLoss(Divergences.of(context, params, KEY));
        }
    }
}
