package org.distillery.kit.loss;

import com.typesafe.config.Config;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;

/**
 * A loss another bundle registers (e.g. kd-core's {@code kd.reverse-kl}) that a loss composes.
 * It is looked up in the registry at every {@link #get()} and rebuilt when its provider changes,
 * so an updated bundle reaches the composed term at the next step, like a plain term.
 *
 * <pre>
 * RegisteredLoss reverseKl = new RegisteredLoss(context, "kd.reverse-kl",
 *         ConfigFactory.parseMap(Map.of("temperature", 1.0)), "minillm.single-step");
 * LossValue v = reverseKl.get().compute(input.withBatch(weighted));
 * </pre>
 */
public final class RegisteredLoss {

    private final LossContext context;
    private final String key;
    private final Config params;
    private Contribution<LossFactory> current;
    private Loss loss;

    /**
     * Resolves {@code key} now, failing with a config error naming {@code owner} when no bundle
     * provides it.
     *
     * @param context the composing loss's context (the composed loss is built with it)
     * @param key the composed loss's registry key
     * @param params its parameters (over its defaults)
     * @param owner the composing loss's key, for messages
     */
    public RegisteredLoss(LossContext context, String key, Config params, String owner) {
        this.context = context;
        this.key = key;
        this.params = params;
        if (find() == null) {
            String path = context.paramsPath();
            throw new InvalidConfigException(path == null || path.isEmpty() ? "train.loss" : path,
                    owner + " composes the loss " + key + ", which no installed bundle provides", owner,
                    "install the bundle that registers " + key);
        }
    }

    /** The loss of the current provider, rebuilt when the provider changed. */
    public Loss get() {
        Contribution<LossFactory> c = find();
        if (c == null) {
            throw new IllegalStateException("loss " + key + " vanished from the registry");
        }
        if (current == null || current.factory() != c.factory()) {
            loss = c.factory().create(context, params.withFallback(c.defaults()));
            current = c;
        }
        return loss;
    }

    /** The composed loss's registry key. */
    public String key() {
        return key;
    }

    private Contribution<LossFactory> find() {
        return context.registry().find(ContributionKind.LOSS, key, LossFactory.class).orElse(null);
    }
}
