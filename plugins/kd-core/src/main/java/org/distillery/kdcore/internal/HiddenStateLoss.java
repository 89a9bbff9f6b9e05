package org.distillery.kdcore.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.ModelConfig;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Chunks;
import org.distillery.kit.loss.Scalars;

/**
 * {@code kd.hidden}: hidden-state matching between student layers and teacher layers, with learned
 * linear projections when the widths differ, a fixed or dynamic layer mapping, and a schedule that
 * fades it out toward logit-only KD.
 *
 * <p>Romero et al., "FitNets: Hints for Thin Deep Nets", arXiv 1412.6550 (hint layers with a
 * learned regressor); Jiao et al., "TinyBERT", arXiv 1909.10351 (layer mapping, hidden MSE);
 * the loss forms follow arcee-ai/DistillKit {@code lossfuncs/hidden_state.py}; the dynamic
 * mappings are METHODS.md §15 "dynamic variants" (a) nearest teacher layer per batch within a
 * window, (b) soft attention over teacher layers (Passban et al., "ALP-KD", arXiv 2012.14022), and
 * (c) a schedule from hidden-state matching toward logit-only KD.
 *
 * <p>Formula, for student layers m with their mapped teacher layer g(m), W_m ∈ R^{d_S×d_T} (identity
 * when not projected), x = h_S^m W_m, summed over counted tokens and averaged over active pairs:
 * <pre>
 *   mse:    D(x, y) = ‖x − y‖² / d_T
 *   cosine: D(x, y) = 1 − cos(x, y)
 *   fixed:     L_m = Σ_t mask_t · D(x_t, h_T^g(m)_t)
 *   nearest:   L_m = Σ_t mask_t · D(x_t, h_T^n*_t),  n* = argmin_{n ∈ N(m)} Σ_t mask_t · D(x_t, h_T^n_t) (per batch)
 *   attention: L_m = Σ_t mask_t · D(x_t, Σ_{n ∈ N(m)} a_{t,n} h_T^n_t),  a_t = softmax_n(⟨x_t, h_T^n_t⟩ / √d_T)
 *   L = s(step) · (1/|active|) Σ_{m active} L_m
 * </pre>
 * with N(m) = the teacher layers g(m) − window .. g(m) + window (within 1..N_T; {@code window = -1}:
 * every teacher layer) and cos(a, b) = a·b / max(‖a‖‖b‖, 1e-8). Divided by {@code count} (tokens),
 * the fixed mapping is DistillKit's {@code hs_mse} / {@code hs_cosine}. The nearest layer is chosen on
 * values (no gradient flows through the choice); the attention weights are differentiated (ALP-KD).
 *
 * <p>Schedule s over p = step / {@code schedule-steps} (0: the stage's steps), clipped to [0, 1]:
 * {@code constant} 1; {@code linear} 1 − p; {@code cosine} (1 + cos πp) / 2; {@code shallow-to-deep}:
 * the P pairs are matched one at a time, shallowest first (pair ⌊pP⌋ while p &lt; 1), then none. With
 * a logit KD term beside it, the last three end as logit-only KD. The step comes from the trainer's
 * clock ({@link LossContext#clock()}), so a resumed run follows the same schedule.
 *
 * <p>Layers are indices into the models' hidden-state lists: 0 is the embeddings output and
 * i the output of layer i; negative indices count from the end. {@code layers = []} is the
 * uniform mapping m → round(m · N_T / N_S) for m = 1..N_S (round half up).
 *
 * <p>Projections ({@code projection = auto}: only when widths differ; {@code always};
 * {@code never}: widths must match), one per student layer, are created in the run's manager with a
 * seeded init ({@code xavier} uniform, {@code identity}: truncated identity, or {@code zero}; zero
 * suits mse only) and returned by {@link #parameters()}. They are created in {@code create} from the
 * models' configurations in the {@link LossContext} (or the {@code *-hidden-size} and {@code *-layers}
 * parameters, which win), so a resumed run restores them exactly; only when neither gives the sizes
 * (a teacher that is not a local model) are they created at the first batch.
 *
 * <p>Needs both models' hidden states: a cached or remote teacher that only gives top-k
 * log-probabilities cannot be used (IllegalArgumentException).
 *
 * <p>Defaults: {@code metric = mse}, {@code layers = []}, {@code mapping = fixed}, {@code window = 1},
 * {@code schedule = constant}, {@code projection = auto}, {@code init = xavier}.
 * <pre>
 * loss = [
 *   { key = "kd.forward-kl", weight = 0.75, params { temperature = 2.0 } }
 *   { key = "kd.hidden", weight = 0.25, params { metric = cosine, mapping = nearest, window = 1, schedule = linear } }
 * ]
 * </pre>
 */
final class HiddenStateLoss implements Loss {

    /** Registry key. */
    static final String KEY = "kd.hidden";

    /** How a mapped pair is compared. */
    enum Metric { MSE, COSINE }

    /** Which teacher layer a student layer is matched with at each batch. */
    enum Mapping { FIXED, NEAREST, ATTENTION }

    /** How the term's weight moves over training. */
    enum Schedule { CONSTANT, LINEAR, COSINE, SHALLOW_TO_DEEP }

    /** When a learned projection is placed between the student and the teacher width. */
    enum Projection { AUTO, ALWAYS, NEVER }

    /** Initial values of a projection. */
    enum Init { XAVIER, IDENTITY, ZERO }

    /**
     * The settings of one {@code kd.hidden} term.
     *
     * @param metric the distance
     * @param explicitPairs {@code [[student, teacher], ...]}, or empty for the uniform mapping
     * @param mapping fixed, nearest in a window, or attention over a window
     * @param window teacher layers on each side of the mapped one; -1 for all
     * @param schedule how the term fades
     * @param scheduleSteps steps the schedule spans; 0 for the stage's steps
     * @param projection when to project
     * @param init projection initialisation
     */
    record Settings(Metric metric, List<int[]> explicitPairs, Mapping mapping, int window, Schedule schedule,
                    long scheduleSteps, Projection projection, Init init) {
    }

    private static final float COSINE_EPS = 1e-8f;

    private final LossContext context;
    private final Settings settings;

    private int[] resolvedFor;
    private List<int[]> pairs;
    private List<NDArray> projections = List.of();

    HiddenStateLoss(LossContext context, Settings settings, int studentWidth, int teacherWidth, int studentLayers,
                    int teacherLayers) {
        this.context = context;
        this.settings = settings;
        boolean layersKnown = !settings.explicitPairs().isEmpty() || (studentLayers > 0 && teacherLayers > 0);
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
        double progress = context.clock().fraction(settings.scheduleSteps());
        double scale = scale(progress);
        List<Integer> active = active(progress);
        if (active.isEmpty() || scale == 0) {
            // still a differentiable zero, so a trainer may back-propagate a sum that holds only this term
            NDArray zero = student.get(student.size() - 1).sum().mul(Scalars.of(student.get(0), 0));
            return new LossValue(zero, Chunks.count(mask));
        }
        NDArray total = null;
        for (int i : active) {
            NDArray hS = student.get(index(pairs.get(i)[0], student.size(), "student"));
            try (NDManager pair = target.newSubManager()) {
                pair.tempAttachAll(hS);
                NDArray x = hS.toType(DataType.FLOAT32, false);
                if (projections.get(i) != null) {
                    x = x.matMul(projections.get(i));
                }
                NDArray part = pairLoss(x, teacher, pairs.get(i)[1], mask, teacherWidth, pair);
                part.attach(target);
                total = total == null ? part : total.add(part);
            }
        }
        double factor = scale / active.size();
        return new LossValue(total.mul(Scalars.of(total, factor)), Chunks.count(mask));
    }

    /** The masked sum over tokens of the distance of {@code x} to its teacher target under the mapping. */
    private NDArray pairLoss(NDArray x, List<NDArray> teacher, int mapped, NDArray mask, int teacherWidth,
                             NDManager pair) {
        int center = index(mapped, teacher.size(), "teacher");
        if (settings.mapping() == Mapping.FIXED) {
            NDArray y = teacherState(teacher, center, pair);
            return distance(x, y, teacherWidth).mul(mask).sum();
        }
        int[] window = window(center, teacher.size() - 1);
        if (settings.mapping() == Mapping.NEAREST) {
            NDArray best = null;
            float bestValue = Float.POSITIVE_INFINITY;
            for (int n = window[0]; n <= window[1]; n++) {
                NDArray sum = distance(x, teacherState(teacher, n, pair), teacherWidth).mul(mask).sum();
                float value = sum.getFloat();
                if (best == null || value < bestValue) {
                    best = sum;
                    bestValue = value;
                }
            }
            return best;
        }
        NDList candidates = new NDList();
        for (int n = window[0]; n <= window[1]; n++) {
            candidates.add(teacherState(teacher, n, pair));
        }
        NDArray stacked = NDArrays.stack(candidates, 2); // [batch, seq, K, d_T]
        NDArray scores = stacked.mul(x.expandDims(2)).sum(new int[] {-1})
                .div(Scalars.of(x, Math.sqrt(teacherWidth))); // [batch, seq, K]
        NDArray weights = scores.softmax(-1);
        NDArray y = stacked.mul(weights.expandDims(-1)).sum(new int[] {2});
        return distance(x, y, teacherWidth).mul(mask).sum();
    }

    private static NDArray teacherState(List<NDArray> teacher, int n, NDManager pair) {
        NDArray hT = teacher.get(n);
        pair.tempAttachAll(hT);
        return hT.toType(DataType.FLOAT32, false);
    }

    /** The teacher layers {@code [first, last]} a student layer mapped to {@code center} may be matched with. */
    private int[] window(int center, int teacherLayers) {
        if (settings.window() < 0) {
            return new int[] {Math.min(1, teacherLayers), teacherLayers};
        }
        int low = center == 0 ? 0 : Math.max(1, center - settings.window());
        return new int[] {low, Math.min(teacherLayers, center + settings.window())};
    }

    private NDArray distance(NDArray x, NDArray y, int teacherWidth) {
        return settings.metric() == Metric.MSE
                ? x.sub(y).square().sum(new int[] {-1}).div(Scalars.of(x, teacherWidth))
                : cosineDistance(x, y);
    }

    /** The schedule's weight at {@code progress} (a fraction of the schedule's steps). */
    double scale(double progress) {
        return switch (settings.schedule()) {
            case CONSTANT -> 1.0;
            case LINEAR -> 1.0 - progress;
            case COSINE -> 0.5 * (1 + Math.cos(Math.PI * progress));
            case SHALLOW_TO_DEEP -> progress >= 1 ? 0.0 : 1.0;
        };
    }

    /** The pairs matched at {@code progress}: all of them, or the one shallow-to-deep has reached. */
    List<Integer> active(double progress) {
        List<Integer> all = new ArrayList<>();
        for (int i = 0; i < pairs.size(); i++) {
            all.add(i);
        }
        if (settings.schedule() != Schedule.SHALLOW_TO_DEEP) {
            return all;
        }
        if (progress >= 1) {
            return List.of();
        }
        all.sort((a, b) -> Integer.compare(pairs.get(a)[0], pairs.get(b)[0]));
        return List.of(all.get((int) Math.floor(progress * pairs.size())));
    }

    private static NDArray cosineDistance(NDArray x, NDArray y) {
        NDArray dot = x.mul(y).sum(new int[] {-1});
        NDArray norms = x.norm(new int[] {-1}).mul(y.norm(new int[] {-1}));
        norms = norms.maximum(Scalars.of(norms, COSINE_EPS));
        return dot.div(norms).neg().add(Scalars.of(dot, 1));
    }

    /** Maps layers and creates projections once; later batches must have the same shapes. */
    private void resolve(int studentLayers, int teacherLayers, int studentWidth, int teacherWidth) {
        int[] dims = {studentLayers, teacherLayers, studentWidth, teacherWidth};
        if (resolvedFor != null) {
            // layer counts not known at creation (explicit pairs) are taken from the first batch
            boolean same = resolvedFor[2] == studentWidth && resolvedFor[3] == teacherWidth
                    && (resolvedFor[0] == 0 || resolvedFor[0] == studentLayers)
                    && (resolvedFor[1] == 0 || resolvedFor[1] == teacherLayers);
            if (!same) {
                throw new IllegalArgumentException(KEY + " was set up for " + describe(resolvedFor) + " but got "
                        + describe(dims));
            }
            return;
        }
        boolean project = switch (settings.projection()) {
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
        List<int[]> mapped = settings.explicitPairs().isEmpty() ? uniform(studentLayers, teacherLayers)
                : settings.explicitPairs();
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
        switch (settings.init()) {
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
            return "hidden-state MSE or cosine over fixed, nearest or attended teacher layers, with a schedule "
                    + "toward logit-only KD; learned projections when widths differ";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            int window = p.integer("window", -1);
            Settings settings = new Settings(p.choice("metric", Metric.class), layers(p),
                    p.choice("mapping", Mapping.class), window, p.choice("schedule", Schedule.class),
                    p.longInteger("schedule-steps", 0), p.choice("projection", Projection.class),
                    p.choice("init", Init.class));
            ModelConfig s = context.student();
            ModelConfig t = context.teacher();
            int studentWidth = p.integer("student-hidden-size", 0);
            int teacherWidth = p.integer("teacher-hidden-size", 0);
            int studentLayers = p.integer("student-layers", 0);
            int teacherLayers = p.integer("teacher-layers", 0);
            return new HiddenStateLoss(context, settings,
                    studentWidth > 0 ? studentWidth : s == null ? 0 : s.hiddenSize(),
                    teacherWidth > 0 ? teacherWidth : t == null ? 0 : t.hiddenSize(),
                    studentLayers > 0 ? studentLayers : s == null ? 0 : s.numLayers(),
                    teacherLayers > 0 ? teacherLayers : t == null ? 0 : t.numLayers());
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
