package org.distillery.minillm.internal;

import com.typesafe.config.Config;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.run.RunContext;

/**
 * A loss another bundle registers (e.g. kd-core's {@code kd.reverse-kl}) that a minillm loss
 * composes. It is looked up in the registry at every use and rebuilt when its provider changes,
 * so an updated kd-core bundle reaches the composed term at the next step, like a plain term.
 */
final class RegisteredLoss {

    private final RunContext run;
    private final String key;
    private final Config params;
    private Contribution<LossFactory> current;
    private Loss loss;

    /**
     * Resolves {@code key} now, failing with a config error naming {@code owner} when no bundle
     * provides it.
     *
     * @param run the run
     * @param key the composed loss's registry key
     * @param params its parameters (over its defaults)
     * @param owner the composing loss's key, for messages
     */
    RegisteredLoss(RunContext run, String key, Config params, String owner) {
        this.run = run;
        this.key = key;
        this.params = params;
        if (find() == null) {
            throw new InvalidConfigException("train.loss", owner + " composes the loss " + key
                    + ", which no installed bundle provides", owner, "install the bundle that registers " + key
                    + " (kd-core)");
        }
    }

    /** The loss of the current provider. */
    Loss get() {
        Contribution<LossFactory> c = find();
        if (c == null) {
            throw new IllegalStateException("loss " + key + " vanished from the registry");
        }
        if (current == null || current.factory() != c.factory()) {
            loss = c.factory().create(run, params.withFallback(c.defaults()));
            current = c;
        }
        return loss;
    }

    private Contribution<LossFactory> find() {
        return run.registry().find(ContributionKind.LOSS, key, LossFactory.class).orElse(null);
    }
}
