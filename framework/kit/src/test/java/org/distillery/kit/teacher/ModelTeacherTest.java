package org.distillery.kit.teacher;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.Optional;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.distillery.api.model.RoutingOverride;
import org.distillery.api.teacher.TeacherOutput;

/** {@link ModelTeacher} over a fake model that records how it was called and owns its outputs. */
class ModelTeacherTest {

    private static final int V = 3;
    private static final int H = 2;

    /**
     * A model whose logit v at a token is {@code 10·id + v}; it creates its outputs in its own
     * manager (freed when the model closes) and returns hidden states when asked or when {@code chatty}.
     */
    private static final class FakeModel implements LanguageModel {
        final NDManager scope;
        final boolean chatty;
        ForwardOptions options;
        NDArray input;
        int forwards;
        boolean closed;

        FakeModel(NDManager parent, boolean chatty) {
            this.scope = parent.newSubManager();
            this.chatty = chatty;
        }

        @Override
        public ModelConfig config() {
            return null;
        }

        @Override
        public Map<String, NDArray> parameters() {
            return Map.of();
        }

        @Override
        public ModelOutput forward(NDArray inputIds, ForwardOptions opts) {
            forwards++;
            options = opts;
            input = inputIds;
            long[] ids = inputIds.toLongArray();
            float[] logits = new float[ids.length * V];
            for (int i = 0; i < ids.length; i++) {
                for (int v = 0; v < V; v++) {
                    logits[i * V + v] = 10 * ids[i] + v;
                }
            }
            Shape s = inputIds.getShape();
            List<NDArray> hidden = opts.hiddenStates() || chatty
                    ? List.of(scope.ones(new Shape(s.get(0), s.get(1), H)), scope.zeros(new Shape(s.get(0), s.get(1), H)))
                    : List.of();
            return new ModelOutput(scope.create(logits, new Shape(s.get(0), s.get(1), V)), hidden, List.of(), List.of(),
                    List.of(), null);
        }

        @Override
        public KvCache newCache() {
            throw new UnsupportedOperationException("not used");
        }

        @Override
        public void close() {
            closed = true;
            scope.close();
        }
    }

    /**
     * The fake model with an output head: its final hidden state at a token is {@code [id, 1]} and
     * the head's row v is {@code [10, v]}, so the head gives the same logits {@code 10·id + v}.
     */
    private static final class HeadedModel implements LanguageModel {
        final FakeModel inner;
        final OutputHead head;

        HeadedModel(NDManager parent) {
            inner = new FakeModel(parent, false);
            head = OutputHead.of(inner.scope.create(new float[] {10, 0, 10, 1, 10, 2}, new Shape(V, H)));
        }

        @Override
        public ModelConfig config() {
            return null;
        }

        @Override
        public Map<String, NDArray> parameters() {
            return Map.of();
        }

        @Override
        public Optional<OutputHead> outputHead() {
            return Optional.of(head);
        }

        @Override
        public ModelOutput forward(NDArray inputIds, ForwardOptions opts) {
            ModelOutput out = inner.forward(inputIds, opts);
            if (!opts.headless()) {
                return out;
            }
            long[] ids = inputIds.toLongArray();
            float[] h = new float[ids.length * H];
            for (int i = 0; i < ids.length; i++) {
                h[i * H] = ids[i];
                h[i * H + 1] = 1;
            }
            Shape s = inputIds.getShape();
            return new ModelOutput(null, out.hiddenStates(), List.of(), List.of(), List.of(), null,
                    inner.scope.create(h, new Shape(s.get(0), s.get(1), H)), null);
        }

        @Override
        public KvCache newCache() {
            throw new UnsupportedOperationException("not used");
        }

        @Override
        public void close() {
            inner.close();
        }
    }

    /** A teacher that only names itself. */
    private static final class PlainTeacher extends ModelTeacher {
        PlainTeacher(LanguageModel model) {
            super(model, "test:fake");
        }
    }

    /** A teacher that routes every forward through its override. */
    private static final class RoutedTeacher extends ModelTeacher {
        private final RoutingOverride routing;

        RoutedTeacher(LanguageModel model, RoutingOverride routing) {
            super(model, "test:routed");
            this.routing = routing;
        }

        @Override
        public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
            return forward(batch, hiddenStates, manager, routing);
        }
    }

    private NDManager manager;

    @BeforeEach
    void open() {
        manager = NDManager.newBaseManager();
    }

    @AfterEach
    void close() {
        manager.close();
    }

    private TokenBatch batch(NDManager m) {
        Shape shape = new Shape(2, 2);
        return new TokenBatch(m.create(new long[] {1, 2, 3, 0}, shape), m.create(new float[] {1, 1, 1, 0}, shape),
                m.create(new long[] {2, 4, 0, 0}, shape), m.create(new float[] {0, 1, 0, 0}, shape),
                m.create(new int[] {1, 1}));
    }

    @Test
    void scoreRunsOneInferenceForwardWithTheAttentionMask() {
        FakeModel model = new FakeModel(manager, false);
        try (PlainTeacher teacher = new PlainTeacher(model); NDManager step = manager.newSubManager()) {
            TokenBatch b = batch(step);
            TeacherOutput out = teacher.score(b, false, step);
            assertEquals(1, model.forwards);
            assertSame(b.inputIds(), model.input);
            assertSame(b.attentionMask(), model.options.attentionMask(), "the batch's padding is masked");
            assertFalse(model.options.training(), "inference");
            assertFalse(model.options.hiddenStates(), "no hidden states unless asked");
            assertNull(model.options.routing());
            assertNull(model.options.cache());
            assertTrue(out.hasLogits());
            assertArrayEquals(new float[] {10, 11, 12, 20, 21, 22, 30, 31, 32, 0, 1, 2}, out.logits().toFloatArray());
            assertTrue(out.hiddenStates().isEmpty());
            assertNull(out.topIds());
            assertTrue(out.logitSamples().isEmpty());
        }
    }

    @Test
    void aModelWithAnOutputHeadLeavesTheLogitsFused() {
        HeadedModel model = new HeadedModel(manager);
        try (PlainTeacher teacher = new PlainTeacher(model); NDManager step = manager.newSubManager()) {
            TeacherOutput out = teacher.score(batch(step), false, step);
            assertTrue(model.inner.options.headless(), "the pass stops before the head");
            assertTrue(out.hasLogits());
            assertTrue(out.logitsView().isFused());
            assertFalse(out.logitsView().isMaterialised(), "nothing materialised until asked");
            assertSame(step, out.fused().hidden().getManager());
            assertArrayEquals(new float[] {10, 11, 12, 20, 21, 22, 30, 31, 32, 0, 1, 2}, out.logits().toFloatArray());
            assertSame(step, out.logits().getManager());
        }
    }

    @Test
    void hiddenStatesOnlyWhenAsked() {
        FakeModel model = new FakeModel(manager, true);
        try (PlainTeacher teacher = new PlainTeacher(model); NDManager step = manager.newSubManager()) {
            TeacherOutput without = teacher.score(batch(step), false, step);
            assertFalse(model.options.hiddenStates());
            assertTrue(without.hiddenStates().isEmpty(), "not asked: none, even from a model that returns them");

            TeacherOutput with = teacher.score(batch(step), true, step);
            assertTrue(model.options.hiddenStates());
            assertEquals(2, with.hiddenStates().size());
            assertEquals(new Shape(2, 2, H), with.hiddenStates().get(0).getShape());
        }
    }

    @Test
    void aRoutingOverrideReachesTheModel() {
        RoutingOverride routing = (layer, logits, topK) -> {
            throw new UnsupportedOperationException("the fake model has no experts");
        };
        FakeModel model = new FakeModel(manager, false);
        try (RoutedTeacher teacher = new RoutedTeacher(model, routing); NDManager step = manager.newSubManager()) {
            teacher.score(batch(step), true, step);
            assertSame(routing, model.options.routing());
            assertTrue(model.options.hiddenStates());
        }
    }

    @Test
    void outputsBelongToTheGivenManagerAndOutliveTheModel() {
        FakeModel model = new FakeModel(manager, false);
        NDManager step = manager.newSubManager();
        PlainTeacher teacher = new PlainTeacher(model);
        TeacherOutput out = teacher.score(batch(step), true, step);
        assertSame(step, out.logits().getManager());
        out.hiddenStates().forEach(h -> assertSame(step, h.getManager()));

        assertEquals("test:fake", teacher.identity());
        assertSame(model, teacher.model().orElseThrow());
        teacher.close();
        assertTrue(model.closed, "the teacher owns and closes its model");
        assertFalse(model.scope.isOpen());
        assertEquals(32f, out.logits().getFloat(1, 0, 2), 0f, "still readable after the model's scope closed");
        assertEquals(1f, out.hiddenStates().get(0).getFloat(0, 0, 0), 0f);
        step.close();
    }
}
