package org.distillery.kdcore.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.google.inject.Guice;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.training.GradientCollector;

import org.distillery.api.ContributionKind;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.loss.StepClock;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.teacher.TeacherOutput;

/**
 * Builds losses the way the kernel does (Guice map, defaults from {@code reference.conf}
 * with user params over them) and runs them on fixtures under a {@link GradientCollector}.
 * Owns the tests' base manager; close it after the test class.
 */
final class LossHarness implements AutoCloseable {

    /** What a logit loss returned: the value, the token count and d value / d student logits. */
    record LogitResult(double value, long count, float[] gradient) {
    }

    /** What {@code kd.hidden} returned: value, d value / d each student state, and each projection's gradient. */
    record HiddenResult(double value, long count, float[][] stateGradients, List<float[]> parameterGradients) {
    }

    private final NDManager base = NDManager.newBaseManager();
    private final NDManager runManager = base.newSubManager();
    private final LossContext run = new LossContext(runManager, 7, null, null, null, "train.loss[0].params");
    private final Map<String, LossFactory> factories = Guice.createInjector(new KdCoreModule())
            .getInstance(Key.get(new TypeLiteral<Map<String, LossFactory>>() { }));
    private final Config reference = ConfigFactory.parseResources(KdCoreModule.class.getClassLoader(), "reference.conf");

    Map<String, LossFactory> factories() {
        return factories;
    }

    /** The defaults block of {@code key}. */
    Config defaults(String key) {
        return reference.getConfig(ContributionKind.LOSS.defaultsPath(key));
    }

    /** Creates {@code key} with {@code hocon} over its defaults. */
    Loss create(String key, String hocon) {
        return create(key, hocon, run);
    }

    /** Creates {@code key} with {@code hocon} over its defaults, in {@code context}. */
    Loss create(String key, String hocon, LossContext context) {
        return factories.get(key).create(context, ConfigFactory.parseString(hocon).withFallback(defaults(key)).resolve());
    }

    /** A context as the trainer builds it: the run's manager and seed, the models' configs and the stage's clock. */
    LossContext context(ModelConfig student, ModelConfig teacher, StepClock clock) {
        return new LossContext(runManager, 7, null, student, teacher, "train.loss[0].params", clock);
    }

    /**
     * Runs a logit loss on {@code f} (full or top-k teacher) as the trainer does, with the step's
     * gradient collector in the input (chunk gradients on), and back-propagates its sum.
     */
    LogitResult run(Loss loss, Fixture f, boolean topK) {
        return run(loss, f, topK, true);
    }

    /** As {@link #run(Loss, Fixture, boolean)}; {@code chunkGradients = false} leaves the collector out. */
    LogitResult run(Loss loss, Fixture f, boolean topK, boolean chunkGradients) {
        try (NDManager step = base.newSubManager()) {
            Shape logits = new Shape(f.b(), f.t(), f.v());
            NDArray student = step.create(f.student(), logits);
            student.setRequiresGradient(true);
            TeacherOutput teacher = topK
                    ? new TeacherOutput(null, step.create(f.topIds(), new Shape(f.b(), f.t(), f.k())),
                            step.create(f.topLogProbs(), new Shape(f.b(), f.t(), f.k())),
                            step.create(f.restLogMass(), new Shape(f.b(), f.t())), List.of())
                    : new TeacherOutput(step.create(f.teacher(), logits), null, null, null, List.of());
            TokenBatch batch = batch(step, f.mask(), f.targets(), f.b(), f.t());
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.zeroGradients();
                LossValue value = loss.compute(new LossInput(batch, student, List.of(), teacher, List.of(), step,
                        chunkGradients ? collector : null));
                collector.backward(value.sum());
                return new LogitResult(value.sum().getFloat(), value.count(), student.getGradient().toFloatArray());
            }
        }
    }

    /** Runs {@code kd.hidden} on the given states and back-propagates its sum. */
    HiddenResult runHidden(Loss loss, float[][] studentStates, float[][] teacherStates, int teacherWidth) {
        try (NDManager step = base.newSubManager()) {
            List<NDArray> student = new ArrayList<>();
            for (float[] s : studentStates) {
                NDArray a = step.create(s, new Shape(2, 5, HiddenFixture.STUDENT_WIDTH));
                a.setRequiresGradient(true);
                student.add(a);
            }
            List<NDArray> teacher = new ArrayList<>();
            for (float[] t : teacherStates) {
                teacher.add(step.create(t, new Shape(2, 5, teacherWidth)));
            }
            TokenBatch batch = batch(step, Fixture.MASK, new long[10], 2, 5);
            try (GradientCollector collector = Engine.getInstance().newGradientCollector()) {
                collector.zeroGradients();
                LossValue value = loss.compute(new LossInput(batch, student.get(0).zerosLike(), student, null, teacher, step));
                collector.backward(value.sum());
                float[][] grads = new float[student.size()][];
                for (int i = 0; i < grads.length; i++) {
                    grads[i] = student.get(i).getGradient().toFloatArray();
                }
                List<float[]> paramGrads = new ArrayList<>();
                for (NDArray p : loss.parameters()) {
                    paramGrads.add(p.getGradient().toFloatArray());
                }
                return new HiddenResult(value.sum().getFloat(), value.count(), grads, paramGrads);
            }
        }
    }

    private static TokenBatch batch(NDManager step, float[] mask, long[] targets, int b, int t) {
        Shape shape = new Shape(b, t);
        NDArray ids = step.zeros(shape, DataType.INT64);
        return new TokenBatch(ids, step.ones(shape), step.create(targets, shape), step.create(mask, shape),
                step.zeros(new Shape(b), DataType.INT32));
    }

    @Override
    public void close() {
        base.close();
    }
}
