package org.distillery.multimodal.internal;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Scalars;

/**
 * {@code mm.relation}: LLaVA-KD's RDist (Cai et al., arXiv 2410.16236; L_rel of the training
 * code's {@code compute_loss}): how the teacher relates the visual tokens of an image to each
 * other, transferred through their self-correlation matrices. With Z the [N_v, d] features at one
 * image's token positions,
 * <pre>
 *   R = Ẑ Ẑᵀ   (N_v × N_v; Ẑ = Z, or Z with L2-normalised rows)
 *   L_rel = 1 − cos(vec R_T, vec R_S)
 * </pre>
 * Because R is N_v × N_v, teacher and student widths (and vocabularies) need not match.
 *
 * <p>Parameters (defaults follow the re-released training code, METHODS.md A6):
 * <ul>
 *   <li>{@code features}: {@code logits} (default: the output logits at the image positions, as the
 *       code) or {@code hidden} (the hidden state {@code layer} at the image positions: -1 the last,
 *       after the final norm; 0 the language model's input there, which for Llama-family models is
 *       the projector's output, the features the released model code correlates);</li>
 *   <li>{@code normalize}: {@code none} (default, as the code) or {@code l2} per token;</li>
 *   <li>{@code reduction}: {@code batch} (default: one cosine over the whole batch's flattened R,
 *       as the code) or {@code image} (the mean of one cosine per image).</li>
 * </ul>
 * The term is a scalar per micro-batch; it returns it times the batch's response tokens, so after
 * the trainer's division by them it is the scalar itself. A batch without images gives 0.
 * <pre>
 * loss = [ { key = mm.relation, weight = 1.0, params { features = logits, normalize = none, reduction = batch } } ]
 * </pre>
 */
final class RelationLoss implements Loss {

    /** Registry key. */
    static final String KEY = "mm.relation";

    private static final double EPS = 1e-8;

    private final boolean logits;
    private final int layer;
    private final boolean l2;
    private final boolean perImage;

    RelationLoss(boolean logits, int layer, boolean l2, boolean perImage) {
        this.logits = logits;
        this.layer = layer;
        this.l2 = l2;
        this.perImage = perImage;
    }

    @Override
    public Set<Need> needs() {
        return logits ? EnumSet.of(Need.TEACHER_LOGITS) : EnumSet.of(Need.STUDENT_HIDDEN, Need.TEACHER_HIDDEN);
    }

    @Override
    public LossValue compute(LossInput input) {
        TokenBatch batch = input.batch();
        ImageSpans spans = ImageSpans.of(batch);
        if (spans.images() == 0) {
            return new LossValue(input.manager().zeros(new Shape(), DataType.FLOAT32), 0);
        }
        NDArray student = features(input.studentLogits(), input.studentHidden(), "student");
        TeacherOutput t = input.teacher();
        if (logits && (t == null || !t.hasLogits())) {
            throw new IllegalArgumentException(KEY + " on logits needs the teacher's full logits (an in-process teacher)");
        }
        NDArray teacher = features(logits ? t.logits() : null, input.teacherHidden(), "teacher").stopGradient();
        NDList rs = new NDList();
        NDList rt = new NDList();
        for (int i = 0; i < spans.starts().length; i++) {
            int n = spans.counts()[i];
            if (n == 0) {
                continue;
            }
            String span = i + ", " + spans.starts()[i] + ":" + (spans.starts()[i] + n) + ", :";
            rs.add(relation(student.get(span)).reshape(-1));
            rt.add(relation(teacher.get(span)).reshape(-1));
        }
        NDArray loss;
        if (perImage) {
            NDArray sum = null;
            for (int k = 0; k < rs.size(); k++) {
                NDArray one = oneMinusCos(rs.get(k), rt.get(k));
                sum = sum == null ? one : sum.add(one);
            }
            loss = sum.div(Scalars.of(sum, rs.size()));
        } else {
            loss = oneMinusCos(NDArrays.concat(rs, 0), NDArrays.concat(rt, 0));
        }
        double responseTokens = Math.max(1, Chunks.count(batch.lossMask()));
        return new LossValue(loss.mul(Scalars.of(loss, responseTokens)), spans.images());
    }

    /** [batch, seq, d] float32 features of one side. */
    private NDArray features(NDArray outputLogits, List<NDArray> hidden, String side) {
        NDArray z;
        if (logits) {
            z = outputLogits;
        } else {
            if (hidden == null || hidden.isEmpty()) {
                throw new IllegalArgumentException(KEY + " on hidden states got none from the " + side);
            }
            int idx = layer < 0 ? hidden.size() + layer : layer;
            if (idx < 0 || idx >= hidden.size()) {
                throw new IllegalArgumentException(KEY + ": layer " + layer + " is outside the " + side + "'s "
                        + hidden.size() + " hidden states");
            }
            z = hidden.get(idx);
        }
        return z.getDataType() == DataType.FLOAT32 ? z : z.toType(DataType.FLOAT32, false);
    }

    /** R = Ẑ Ẑᵀ of one image's [n, d] features. */
    private NDArray relation(NDArray z) {
        NDArray x = z;
        if (l2) {
            NDArray norm = x.square().sum(new int[] {-1}, true).sqrt();
            x = x.div(norm.maximum(Scalars.of(norm, EPS)));
        }
        return x.matMul(x.transpose());
    }

    /** 1 − cos(a, b), each norm floored at 1e-8 as {@code torch.cosine_similarity}. */
    private static NDArray oneMinusCos(NDArray a, NDArray b) {
        NDArray dot = a.mul(b).sum();
        NDArray na = a.square().sum().sqrt();
        NDArray nb = b.square().sum().sqrt();
        NDArray cos = dot.div(na.maximum(Scalars.of(na, EPS)).mul(nb.maximum(Scalars.of(nb, EPS))));
        return Scalars.of(cos, 1.0).sub(cos);
    }

    /** The factory. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "LLaVA-KD RDist: 1 - cos between teacher and student self-correlation matrices of the image tokens";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            boolean logits = p.choice("features", "logits", "hidden").equals("logits");
            int layer = params.getInt("layer");
            boolean l2 = p.choice("normalize", "none", "l2").equals("l2");
            boolean perImage = p.choice("reduction", "batch", "image").equals("image");
            return new RelationLoss(logits, layer, l2, perImage);
        }
    }
}
