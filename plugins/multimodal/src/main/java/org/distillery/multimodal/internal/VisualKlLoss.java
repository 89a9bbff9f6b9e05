package org.distillery.multimodal.internal;

import java.util.EnumSet;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.RegisteredLoss;
import org.distillery.kit.loss.Scalars;

/**
 * {@code mm.visual-kl}: LLaVA-KD's MDist on the visual tokens (Cai et al., arXiv 2410.16236; L_vis
 * of the training code's {@code compute_loss}): the divergence D(p_T ‖ q_S) of the two models'
 * output distributions at the image-token positions themselves, the <em>un-shifted</em> logits
 * over each image span [s, s + N_v) of {@link TokenBatch#imageSpans()}:
 * <pre>  L_vis = (1 / N_vis) Σ_{t ∈ image spans} D(p_T(·|x_≤t) ‖ q_S(·|x_≤t))</pre>
 * D is any registered divergence ({@code divergence}, default {@code kd.forward-kl}). Text-only
 * rows contribute nothing; a batch without images gives 0.
 *
 * <p>Normalisation ({@code normalize}): {@code image-tokens} (default, the reference code's
 * token mean over the image positions) returns the sum times N_res / N_vis, so that after the
 * trainer's division by the response tokens the term is the mean over image positions (exact with
 * {@code grad-accum = 1}); {@code response-tokens} returns the plain sum (divided by the response
 * tokens like the other terms).
 * <pre>
 * loss = [ { key = mm.visual-kl, weight = 1.0, params { divergence = kd.forward-kl, normalize = image-tokens } } ]
 * </pre>
 */
final class VisualKlLoss implements Loss {

    /** Registry key. */
    static final String KEY = "mm.visual-kl";

    private final RegisteredLoss divergence;
    private final boolean perImageToken;

    VisualKlLoss(RegisteredLoss divergence, boolean perImageToken) {
        this.divergence = divergence;
        this.perImageToken = perImageToken;
    }

    @Override
    public Set<Need> needs() {
        Set<Need> needs = EnumSet.of(Need.TEACHER_LOGITS);
        needs.addAll(divergence.get().needs());
        return needs;
    }

    @Override
    public LossValue compute(LossInput input) {
        TokenBatch batch = input.batch();
        ImageSpans spans = ImageSpans.of(batch);
        long imageTokens = spans.total();
        if (imageTokens == 0) {
            return new LossValue(input.manager().zeros(new Shape(), DataType.FLOAT32), 0);
        }
        NDArray mask = spans.mask(input.manager());
        NDArray sum = divergence.get().compute(input.withBatch(batch.withLossMask(mask))).sum();
        if (perImageToken) {
            double scale = Math.max(1, Chunks.count(batch.lossMask())) / (double) imageTokens;
            sum = sum.mul(Scalars.of(sum, scale));
        }
        return new LossValue(sum, imageTokens);
    }

    /** The factory. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "LLaVA-KD MDist on visual tokens: a registered divergence at the image-token positions (un-shifted)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            boolean perImageToken = p.choice("normalize", "image-tokens", "response-tokens").equals("image-tokens");
            return new VisualKlLoss(Divergences.of(context, params, KEY), perImageToken);
        }
    }
}
