package org.distillery.testkit;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.training.GradientCollector;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Logits;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;

/**
 * Golden tests of the fused output layer: runs a loss once on the unfused path (the models'
 * logits materialised, as {@code train.fused-output = false} runs) and once on the fused path
 * (final hidden states and output heads, logits computed chunk by chunk), each with the step's
 * gradient collector in the input as the trainer passes it, and compares the values and gradients.
 *
 * <p>Two levels: {@link #onHidden} over leaf hidden states and a leaf head (gradients w.r.t. the
 * hidden states, the head weight and bias), and {@link #throughModel} through a real model's
 * forward and backward (gradients w.r.t. every parameter, the head or tied embedding included).
 * Models must have dropout 0 so that both passes compute the same function.
 */
public final class FusedParity {

    private FusedParity() {
    }

    /**
     * What one path returned.
     *
     * @param value the loss sum
     * @param count the counted tokens
     * @param gradients gradients by name: {@code hidden}, {@code head.weight}, {@code head.bias}
     *     ({@link #onHidden}) or the model's parameter names ({@link #throughModel})
     */
    public record Result(double value, long count, Map<String, float[]> gradients) {
    }

    /** The teacher side of a step: its output with materialised logits ({@code fused = false}) or fused ones. */
    @FunctionalInterface
    public interface TeacherSide {
        /** Scores {@code batch} into arrays of {@code step}, with hidden states when asked. */
        TeacherOutput score(TokenBatch batch, boolean fused, boolean hiddenStates, NDManager step);
    }

    /** No teacher (losses that need none). */
    public static TeacherSide noTeacher() {
        return (batch, fused, hidden, step) -> null;
    }

    /** A local model teacher: its logits materialised, or its final hidden states and head when fused. */
    public static TeacherSide modelTeacher(LanguageModel teacher) {
        return (batch, fused, hidden, step) -> {
            ForwardOptions o = ForwardOptions.inference().withMask(batch.attentionMask())
                    .withPixelValues(batch.pixelValues());
            if (hidden) {
                o = o.withHiddenStates();
            }
            if (fused) {
                o = o.withoutHead();
            }
            ModelOutput out = teacher.forward(batch.inputIds(), o);
            out.hiddenStates().forEach(h -> h.attach(step));
            if (fused) {
                out.finalHidden().attach(step);
                return new TeacherOutput(Logits.fused(out.finalHidden(), teacher.outputHead().orElseThrow()),
                        out.hiddenStates());
            }
            out.logits().attach(step);
            return new TeacherOutput(out.logits(), null, null, null, out.hiddenStates());
        };
    }

    /**
     * A {@link Teacher} as the trainer uses it: its output as scored (fused logits, from a model teacher
     * over a model with an output head) on the fused path, its logits materialised on the unfused one.
     */
    public static TeacherSide teacher(Teacher teacher) {
        return (batch, fused, hidden, step) -> {
            TeacherOutput out = teacher.score(batch, hidden, step);
            if (fused || !out.hasLogits()) {
                return out;
            }
            return new TeacherOutput(out.logits(), null, null, null, out.hiddenStates(), out.logitSamples());
        };
    }

    /** A cached-style teacher: the model's top-{@code k} log-probabilities and the log of the rest mass. */
    public static TeacherSide topKTeacher(LanguageModel teacher, int k) {
        return (batch, fused, hidden, step) -> {
            ModelOutput out = teacher.forward(batch.inputIds(), ForwardOptions.inference().withMask(batch.attentionMask())
                    .withPixelValues(batch.pixelValues()));
            out.logits().attach(step);
            NDArray logProbs = out.logits().logSoftmax(-1);
            NDList top = logProbs.topK(k, -1, true, true);
            NDArray mass = top.get(0).exp().sum(new int[] {-1});
            NDArray rest = mass.neg().add(1f).maximum(1e-30f).log();
            return new TeacherOutput(null, top.get(1).toType(DataType.INT64, false), top.get(0), rest, List.of());
        };
    }

    /**
     * Runs {@code loss} through {@code student}'s training forward pass and back-propagates its sum.
     *
     * @param loss the loss
     * @param student a model with an output head and dropout 0; its parameters are set to record gradients
     * @param batch the batch, in a manager that outlives the call
     * @param teacher the teacher side
     * @param fused the fused path (headless forward, fused logits on both sides) or the unfused one
     * @param parent where the step's sub-manager is created
     * @return the value, the count and every parameter's gradient by name
     */
    public static Result throughModel(Loss loss, LanguageModel student, TokenBatch batch, TeacherSide teacher,
                                      boolean fused, NDManager parent) {
        Map<String, NDArray> params = student.parameters();
        for (NDArray p : params.values()) {
            p.setRequiresGradient(true);
            zero(p);
        }
        for (NDArray p : loss.parameters()) {
            zero(p);
        }
        Set<Loss.Need> needs = loss.needs();
        try (NDManager step = parent.newSubManager()) {
            TeacherOutput tout = needs.contains(Loss.Need.TEACHER_LOGITS) || needs.contains(Loss.Need.TEACHER_HIDDEN)
                    ? teacher.score(batch, fused, needs.contains(Loss.Need.TEACHER_HIDDEN), step) : null;
            try (GradientCollector gc = Engine.getInstance().newGradientCollector()) {
                ForwardOptions o = ForwardOptions.train().withMask(batch.attentionMask())
                        .withPixelValues(batch.pixelValues());
                if (needs.contains(Loss.Need.STUDENT_HIDDEN)) {
                    o = o.withHiddenStates();
                }
                if (fused) {
                    o = o.withoutHead();
                }
                ModelOutput out = student.forward(batch.inputIds(), o);
                Logits logits = fused ? Logits.fused(out.finalHidden(), student.outputHead().orElseThrow())
                        : Logits.of(out.logits());
                LossValue v = loss.compute(new LossInput(batch, logits, out.hiddenStates(), tout,
                        tout == null ? List.of() : tout.hiddenStates(), step, gc));
                gc.backward(v.sum());
                Map<String, float[]> grads = new LinkedHashMap<>();
                params.forEach((name, p) -> grads.put(name, gradient(p)));
                List<NDArray> own = loss.parameters();
                for (int i = 0; i < own.size(); i++) {
                    grads.put("loss." + i, gradient(own.get(i)));
                }
                return new Result(v.sum().getFloat(), v.count(), grads);
            }
        }
    }

    /**
     * Runs {@code loss} over hidden states {@code hidden} [batch, seq, width] and {@code head}, both
     * leaves that record gradients, and back-propagates its sum: unfused, the head is applied to
     * every position first; fused, the loss reads {@link Logits#fused}.
     *
     * @return the value, the count and the gradients {@code hidden}, {@code head.weight} and
     *     (with a bias) {@code head.bias}
     */
    public static Result onHidden(Loss loss, NDArray hidden, OutputHead head, TokenBatch batch, TeacherOutput teacher,
                                  boolean fused, NDManager parent) {
        List<NDArray> leaves = new ArrayList<>(List.of(hidden, head.weight()));
        if (head.bias() != null) {
            leaves.add(head.bias());
        }
        for (NDArray leaf : leaves) {
            leaf.setRequiresGradient(true);
            zero(leaf);
        }
        try (NDManager step = parent.newSubManager();
             GradientCollector gc = Engine.getInstance().newGradientCollector()) {
            Logits logits = fused ? Logits.fused(hidden, head) : Logits.of(head.apply(hidden));
            LossValue v = loss.compute(new LossInput(batch, logits, List.of(), teacher, List.of(), step, gc));
            gc.backward(v.sum());
            Map<String, float[]> grads = new LinkedHashMap<>();
            grads.put("hidden", gradient(hidden));
            grads.put("head.weight", gradient(head.weight()));
            if (head.bias() != null) {
                grads.put("head.bias", gradient(head.bias()));
            }
            return new Result(v.sum().getFloat(), v.count(), grads);
        }
    }

    /**
     * Throws an {@link AssertionError} unless both results have the same count, values within
     * {@code valueTolerance}·max(1, |value|), and every gradient entry within
     * {@code gradientTolerance}·max(1e-3, max |gradient of that array|) of the other's.
     */
    public static void assertEqual(Result expected, Result actual, double valueTolerance, double gradientTolerance,
                                   String what) {
        if (expected.count() != actual.count()) {
            throw new AssertionError(what + ": count " + expected.count() + " vs " + actual.count());
        }
        double dv = Math.abs(expected.value() - actual.value());
        if (!(dv <= valueTolerance * Math.max(1, Math.abs(expected.value())))) {
            throw new AssertionError(what + ": value " + expected.value() + " vs " + actual.value());
        }
        if (!expected.gradients().keySet().equals(actual.gradients().keySet())) {
            throw new AssertionError(what + ": gradients of " + expected.gradients().keySet() + " vs "
                    + actual.gradients().keySet());
        }
        for (Map.Entry<String, float[]> e : expected.gradients().entrySet()) {
            float[] a = e.getValue();
            float[] b = actual.gradients().get(e.getKey());
            double scale = 1e-3;
            for (float x : a) {
                scale = Math.max(scale, Math.abs(x));
            }
            for (int i = 0; i < a.length; i++) {
                if (!Float.isFinite(b[i]) || !(Math.abs(a[i] - b[i]) <= gradientTolerance * scale)) {
                    throw new AssertionError(what + ": d/d " + e.getKey() + "[" + i + "] = " + a[i] + " vs " + b[i]
                            + " (largest " + scale + ")");
                }
            }
        }
    }

    /** The largest relative difference of values and gradients, for reporting the margin a test kept. */
    public static double largestDifference(Result expected, Result actual) {
        double worst = Math.abs(expected.value() - actual.value()) / Math.max(1, Math.abs(expected.value()));
        for (Map.Entry<String, float[]> e : expected.gradients().entrySet()) {
            float[] a = e.getValue();
            float[] b = actual.gradients().get(e.getKey());
            double scale = 1e-3;
            for (float x : a) {
                scale = Math.max(scale, Math.abs(x));
            }
            for (int i = 0; i < a.length; i++) {
                worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
            }
        }
        return worst;
    }

    private static float[] gradient(NDArray p) {
        try (NDArray g = p.getGradient()) {
            return g.toType(DataType.FLOAT32, false).toFloatArray();
        }
    }

    private static void zero(NDArray p) {
        if (p.hasGradient()) {
            try (NDArray g = p.getGradient()) {
                g.subi(g);
            }
        }
    }
}
