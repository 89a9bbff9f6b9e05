package org.distillery.train;

import java.util.LinkedHashMap;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionKind;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.train.LossSpec;
import org.distillery.api.run.RunContext;
import org.distillery.kit.optim.AdamW;

/**
 * One weighted term of the training loss, re-resolved through the registry at every step:
 * when the factory behind its key changes (bundle updated) or an operator swaps the key, the
 * loss is rebuilt and the change is written to the event log.
 */
final class LossTerm {

    final int index;
    final double weight;
    private final LossContext context;
    String key;
    Config params;
    Contribution<LossFactory> current;
    Loss loss;
    /** Optimizer of the loss's own parameters (e.g. projections), created once they exist. */
    AdamW optimizer;
    /** The loss instance {@link #optimizer} belongs to; a rebuilt loss gets a fresh one. */
    Loss optimizerOf;

    /** The term {@code spec} at position {@code index} of the stage's loss list; its losses are built with {@code context}. */
    LossTerm(int index, LossSpec spec, LossContext context) {
        this.index = index;
        this.key = spec.key();
        this.weight = spec.weight();
        this.params = spec.params();
        this.context = context;
    }

    /** Outcome of a resolution. */
    enum Resolution { SAME, CHANGED, MISSING }

    /** Looks the key up; rebuilds the loss if the provider changed. */
    Resolution resolve(RunContext run) {
        var found = run.registry().find(ContributionKind.LOSS, key, LossFactory.class);
        if (found.isEmpty()) {
            return Resolution.MISSING;
        }
        Contribution<LossFactory> c = found.get();
        if (current != null && current.factory() == c.factory()) {
            return Resolution.SAME;
        }
        String previous = current == null ? null : current.info().coordinates();
        loss = c.factory().create(context, params.withFallback(c.defaults()));
        current = c;
        if (previous != null) {
            Map<String, Object> fields = new LinkedHashMap<>();
            fields.put("term", index);
            fields.put("old", previous);
            fields.put("new", c.info().coordinates());
            run.events().event("loss-swap", fields);
        }
        return previous == null ? Resolution.SAME : Resolution.CHANGED;
    }

    /** The loss's learned parameters by a stable name, {@code term<i>.<j>}. */
    Map<String, ai.djl.ndarray.NDArray> namedParameters() {
        Map<String, ai.djl.ndarray.NDArray> out = new LinkedHashMap<>();
        java.util.List<ai.djl.ndarray.NDArray> ps = loss.parameters();
        for (int j = 0; j < ps.size(); j++) {
            out.put("term" + index + "." + j, ps.get(j));
        }
        return out;
    }

    /** Switches this term to another key (operator swap); takes effect at the next {@link #resolve}. */
    void retarget(String newKey, Config newParams) {
        key = newKey;
        params = newParams == null ? ConfigFactory.empty() : newParams;
        if (current != null && !current.info().key().equals(newKey)) {
            // keep current for the provenance of the swap event; factory identity differs
            current = new Contribution<>(current.info(), null, current.defaults());
        }
    }
}
