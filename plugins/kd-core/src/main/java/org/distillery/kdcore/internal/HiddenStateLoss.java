package org.distillery.kdcore.internal;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.loss.LossContext;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Scalars;

/**
 * {@code kd.hidden}: hidden-state matching between mapped student and teacher layers, with
 * learned linear projections when the widths differ.
 *
 * <p>Romero et al., "FitNets: Hints for Thin Deep Nets", arXiv 1412.6550 (hint layers with a
 * learned regressor); Jiao et al., "TinyBERT", arXiv 1909.10351 (layer mapping, hidden MSE);
 * the loss forms follow arcee-ai/DistillKit {@code lossfuncs/hidden_state.py} (METHODS.md §15).
 *
 * <p>Formula, for mapped pairs (m, g(m)), W_m ∈ R^{d_S×d_T} (identity when not projected),
 * summed over counted tokens and averaged over pairs:
 * <pre>
 *   mse:    L = (1/|pairs|) Σ_m Σ_t mask_t · ‖h_S^m W_m − h_T^g(m)‖² / d_T
 *   cosine: L = (1/|pairs|) Σ_m Σ_t mask_t · (1 − cos(h_S^m W_m, h_T^g(m)))
 * </pre>
 * with cos(a, b) = a·b / max(‖a‖‖b‖, 1e-8). Divided by {@code count} (tokens) this is
 * DistillKit's {@code hs_mse} / {@code hs_cosine}. No temperature, no chunking (hidden states
 * are [batch, seq, width], far smaller than logits), fp32.
 *
 * <p>Layers are indices into the models' hidden-state lists: 0 is the embeddings output and
 * i the output of layer i; negative indices count from the end. {@code layers = []} is the
 * uniform mapping m → round(m · N_T / N_S) for m = 1..N_S (round half up).
 *
 * <p>Projections ({@code projection = auto}: only when widths differ; {@code always};
 * {@code never}: widths must match) are created in the run's manager with a seeded init
 * ({@code xavier} uniform, {@code identity}: truncated identity, or {@code zero}; zero suits
 * mse only) and returned by {@link #parameters()}. They are created in {@code create} when
 * {@code student-hidden-size} and {@code teacher-hidden-size} are set (and, for the uniform
 * mapping, {@code student-layers} and {@code teacher-layers}); otherwise at the first batch,
 * so a trainer must read {@link #parameters()} after the first forward.
 *
 * <p>Needs both models' hidden states: a cached or remote teacher that only gives top-k
 * log-probabilities cannot be used (IllegalArgumentException).
 *
 * <p>Defaults: {@code metric = mse}, {@code layers = []}, {@code projection = auto},
 * {@code init = xavier}, sizes {@code 0} (taken from the first batch).
 * <pre>
 * loss = [
 *   { key = "kd.forward-kl", weight = 0.75, params { temperature = 2.0 } }
 *   { key = "kd.hidden", weight = 0.25, params { metric = cosine, layers = [[2, 4], [4, 8]] } }
 * ]
 * </pre>
 */
final class HiddenStateLoss implements Loss {

    /** Registry key. */
    static final String KEY = "kd.hidden";

    /** How a mapped pair is compared. */
    enum Metric { MSE, COSINE }

    /** When a learned projection is placed between the student and the teacher width. */
    enum Projection { AUTO, ALWAYS, NEVER }

    /** Initial values of a projection. */
    enum Init { XAVIER, IDENTITY, ZERO }

    private static final float COSINE_EPS = 1e-8f;

    private final LossContext context;
    private final Metric metric;
    private final List<int[]> explicitPairs;
    private final Projection projection;
    private final Init init;

    private int[] resolvedFor;
    private List<int[]> pairs;
    private List<NDArray> projections = List.of();

    HiddenStateLoss(LossContext context, Metric metric, List<int[]> explicitPairs, Projection projection, Init init,
                    int studentWidth, int teacherWidth, int studentLayers, int teacherLayers) {
        this.context = context;
        this.metric = metric;
        this.explicitPairs = explicitPairs;
        this.projection = projection;
        this.init = init;
        boolean layersKnown = !explicitPairs.isEmpty() || (studentLayers > 0 && teacherLayers > 0);
        if (studentWidth > 0 && teacherWidth > 0 && layersKnown) {
            resolve(studentLayers, teacherLayers, studentWidth, teacherWidth);
        }
    }

    @Override
    public Set<Need> needs() {
        return EnumSet.of(Need.STUDENT_HIDDEN, Need.TEACHER_HIDDEN);
    }

    @Override
    public List<NDArray> parameters() {
        return projections.stream().filter(p -> p != null).toList();
    }

    @Override
    public LossValue compute(LossInput input) {
        List<NDArray> student = input.studentHidden();
        List<NDArray> teacher = input.teacherHidden().isEmpty() && input.teacher() != null
                ? input.teacher().hiddenStates() : input.teacherHidden();
        if (student == null || student.isEmpty()) {
            throw new IllegalArgumentException(KEY + " needs the student's hidden states, but the step has none");
        }
        if (teacher == null || teacher.isEmpty()) {
            throw new IllegalArgumentException(KEY + " needs the teacher's hidden states, but the step has none;"
                    + " a cached or remote teacher that gives only top-k log-probabilities cannot be used with it");
        }
        int studentWidth = Math.toIntExact(student.get(0).getShape().getLastDimension());
        int teacherWidth = Math.toIntExact(teacher.get(0).getShape().getLastDimension());
        resolve(student.size() - 1, teacher.size() - 1, studentWidth, teacherWidth);

        NDManager target = input.manager();
        NDArray mask = input.batch().lossMask();
        NDArray total = null;
        for (int i = 0; i < pairs.size(); i++) {
            NDArray hS = student.get(index(pairs.get(i)[0], student.size(), "student"));
            NDArray hT = teacher.get(index(pairs.get(i)[1], teacher.size(), "teacher"));
            try (NDManager pair = target.newSubManager()) {
                pair.tempAttachAll(hS, hT);
                NDArray x = hS.toType(DataType.FLOAT32, false);
                if (projections.get(i) != null) {
                    x = x.matMul(projections.get(i));
                }
                NDArray y = hT.toType(DataType.FLOAT32, false);
                NDArray perToken = metric == Metric.MSE
                        ? x.sub(y).square().sum(new int[] {-1}).div(Scalars.of(x, teacherWidth))
                        : cosineDistance(x, y);
                NDArray part = perToken.mul(mask).sum();
                part.attach(target);
                total = total == null ? part : total.add(part);
            }
        }
        return new LossValue(total.div(Scalars.of(total, pairs.size())), Chunks.count(mask));
    }

    private static NDArray cosineDistance(NDArray x, NDArray y) {
        NDArray dot = x.mul(y).sum(new int[] {-1});
        NDArray norms = x.norm(new int[] {-1}).mul(y.norm(new int[] {-1}));
        norms = norms.maximum(Scalars.of(norms, COSINE_EPS));
        return dot.div(norms).neg().add(1);
    }

    /** Maps layers and creates projections once; later batches must have the same shapes. */
    private void resolve(int studentLayers, int teacherLayers, int studentWidth, int teacherWidth) {
        int[] dims = {studentLayers, teacherLayers, studentWidth, teacherWidth};
        if (resolvedFor != null) {
            if (!Arrays.equals(resolvedFor, dims)) {
                throw new IllegalArgumentException(KEY + " was set up for " + describe(resolvedFor) + " but got "
                        + describe(dims));
            }
            return;
        }
        boolean project = switch (projection) {
            case ALWAYS -> true;
            case AUTO -> studentWidth != teacherWidth;
            case NEVER -> {
                if (studentWidth != teacherWidth) {
                    throw new IllegalArgumentException(KEY + ": hidden sizes differ (student " + studentWidth
                            + ", teacher " + teacherWidth + ") and projection = never");
                }
                yield false;
            }
        };
        List<int[]> mapped = explicitPairs.isEmpty() ? uniform(studentLayers, teacherLayers) : explicitPairs;
        List<NDArray> created = new ArrayList<>();
        for (int i = 0; i < mapped.size(); i++) {
            created.add(project ? newProjection(i, studentWidth, teacherWidth) : null);
        }
        pairs = mapped;
        projections = Collections.unmodifiableList(created);
        resolvedFor = dims;
    }

    private static String describe(int[] dims) {
        return dims[0] + " student layers of width " + dims[2] + " and " + dims[1] + " teacher layers of width " + dims[3];
    }

    /** m → round(m · N_T / N_S) for m = 1..N_S. */
    static List<int[]> uniform(int studentLayers, int teacherLayers) {
        if (studentLayers < 1 || teacherLayers < 1) {
            throw new IllegalArgumentException(KEY + ": uniform mapping needs at least one layer on each side (got "
                    + studentLayers + " student, " + teacherLayers + " teacher)");
        }
        List<int[]> mapped = new ArrayList<>();
        for (int m = 1; m <= studentLayers; m++) {
            mapped.add(new int[] {m, (int) Math.round((double) m * teacherLayers / studentLayers)});
        }
        return mapped;
    }

    private static int index(int layer, int size, String side) {
        int i = layer < 0 ? layer + size : layer;
        if (i < 0 || i >= size) {
            throw new IllegalArgumentException(KEY + ": " + side + " layer " + layer + " out of range; the " + side
                    + " has " + size + " hidden states (0 = embeddings, " + (size - 1) + " = last layer)");
        }
        return i;
    }

    private NDArray newProjection(int pair, int studentWidth, int teacherWidth) {
        float[] w = new float[studentWidth * teacherWidth];
        switch (init) {
            case XAVIER -> {
                Random random = context.random(KEY + ".projection." + pair);
                double bound = Math.sqrt(6.0 / (studentWidth + teacherWidth));
                for (int i = 0; i < w.length; i++) {
                    w[i] = (float) ((random.nextDouble() * 2 - 1) * bound);
                }
            }
            case IDENTITY -> {
                for (int i = 0; i < Math.min(studentWidth, teacherWidth); i++) {
                    w[i * teacherWidth + i] = 1f;
                }
            }
            case ZERO -> { }
        }
        NDArray weight = context.manager().create(w, new Shape(studentWidth, teacherWidth));
        weight.setName(KEY + ".projection." + pair);
        weight.setRequiresGradient(true);
        return weight;
    }

    /** Builds {@link HiddenStateLoss}; see the class comment for the parameters. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "hidden-state MSE or cosine over mapped layers, learned projections when widths differ";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            return new HiddenStateLoss(context, p.choice("metric", Metric.class), layers(p),
                    p.choice("projection", Projection.class), p.choice("init", Init.class),
                    p.integer("student-hidden-size", 0), p.integer("teacher-hidden-size", 0),
                    p.integer("student-layers", 0), p.integer("teacher-layers", 0));
        }

        private static List<int[]> layers(Params p) {
            List<int[]> pairs = new ArrayList<>();
            for (Object entry : p.config().getAnyRefList("layers")) {
                if (!(entry instanceof List<?> pair) || pair.size() != 2
                        || !(pair.get(0) instanceof Integer) || !(pair.get(1) instanceof Integer)) {
                    throw new InvalidConfigException(p.at("layers"), "each entry must be a pair of layer indices",
                            String.valueOf(entry), "[] (uniform) or [[studentLayer, teacherLayer], ...]");
                }
                pairs.add(new int[] {(Integer) pair.get(0), (Integer) pair.get(1)});
            }
            return List.copyOf(pairs);
        }
    }
}
