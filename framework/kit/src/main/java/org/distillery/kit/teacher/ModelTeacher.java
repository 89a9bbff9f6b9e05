package org.distillery.kit.teacher;

import java.util.List;
import java.util.Optional;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Logits;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.distillery.api.model.RoutingOverride;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;

/**
 * A teacher over one in-process model, which it owns and closes: it scores a batch with one
 * inference forward pass (no gradients; the batch's images, if any, included), its outputs
 * attached to the step's manager. A teacher
 * that changes how the model runs (sampled or dense MoE routing, several passes) overrides
 * {@link #score} and uses {@link #forward}.
 *
 * <pre>
 * final class MyTeacher extends ModelTeacher {
 *     MyTeacher(LanguageModel model) { super(model, "my:" + model.config().modelType()); }
 *     &#64;Override public TeacherOutput score(TokenBatch b, boolean hidden, NDManager m) {
 *         return forward(b, hidden, m, myRouting);
 *     }
 * }
 * </pre>
 */
public abstract class ModelTeacher implements Teacher {

    /** The teacher's model, owned by the teacher. */
    protected final LanguageModel model;
    private final String identity;

    /** A teacher over {@code model}, recorded in event logs and caches as {@code identity}. */
    protected ModelTeacher(LanguageModel model, String identity) {
        this.model = model;
        this.identity = identity;
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        return forward(batch, hiddenStates, manager, null);
    }

    /**
     * One inference forward pass over {@code batch} (its attention mask applied), routing MoE layers
     * through {@code routing} when it is not {@code null}; its outputs are attached to {@code manager}.
     *
     * <p>When the model has an {@link LanguageModel#outputHead() output head}, the pass stops after the
     * final norm and the output's logits are left {@link TeacherOutput#fused() fused}: a chunked loss
     * computes only the chunk it reads, and {@link TeacherOutput#logits()} materialises them (with the
     * same head, so the same numbers) for a caller that needs them all.
     */
    protected TeacherOutput forward(TokenBatch batch, boolean hiddenStates, NDManager manager,
                                    RoutingOverride routing) {
        ForwardOptions opts = ForwardOptions.inference().withMask(batch.attentionMask())
                .withPixelValues(batch.pixelValues());
        if (routing != null) {
            opts = opts.withRouting(routing);
        }
        if (hiddenStates) {
            opts = opts.withHiddenStates();
        }
        Optional<OutputHead> head = model.outputHead();
        if (head.isPresent()) {
            opts = opts.withoutHead();
        }
        ModelOutput out = model.forward(batch.inputIds(), opts);
        out.hiddenStates().forEach(h -> h.attach(manager));
        List<NDArray> hidden = hiddenStates ? out.hiddenStates() : List.of();
        if (head.isPresent()) {
            out.finalHidden().attach(manager);
            return new TeacherOutput(Logits.fused(out.finalHidden(), head.get()), hidden);
        }
        out.logits().attach(manager);
        return new TeacherOutput(out.logits(), null, null, null, hidden);
    }

    @Override
    public Optional<LanguageModel> model() {
        return Optional.of(model);
    }

    @Override
    public String identity() {
        return identity;
    }

    @Override
    public void close() {
        model.close();
    }
}
