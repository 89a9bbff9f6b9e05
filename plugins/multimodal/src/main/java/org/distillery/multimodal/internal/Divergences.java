package org.distillery.multimodal.internal;

import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.RegisteredLoss;

/**
 * The token-level divergence an MDist term composes: any registered loss ({@code divergence},
 * e.g. kd-core's {@code kd.forward-kl}, {@code kd.reverse-kl}, {@code kd.jsd}, {@code kd.tvd},
 * {@code kd.skew-kl}), built with {@code divergence-params} (an object over its defaults, or null)
 * through {@link RegisteredLoss}, so an updated kd-core reaches the term at the next step.
 */
final class Divergences {

    private Divergences() {
    }

    /** The divergence of {@code params} ({@code divergence}, {@code divergence-params}), composed by {@code owner}. */
    static RegisteredLoss of(LossContext context, Config params, String owner) {
        Params p = Params.of(params, context.paramsPath());
        String key = params.getString("divergence");
        if (key.startsWith("mm.")) {
            throw new InvalidConfigException(p.at("divergence"), "must name a token-level divergence", key,
                    "e.g. kd.forward-kl, kd.reverse-kl, kd.jsd, kd.tvd");
        }
        var c = context.registry().find(ContributionKind.LOSS, key, LossFactory.class).orElseThrow(() ->
                new InvalidConfigException(p.at("divergence"), "no registered loss", key, String.join(", ",
                        context.registry().list(ContributionKind.LOSS).stream().map(i -> i.key())
                                .filter(k -> !k.startsWith("mm.")).toList())));
        Config own = ConfigFactory.empty();
        if (params.hasPath("divergence-params") && !params.getIsNull("divergence-params")) {
            if (params.getValue("divergence-params").valueType() != ConfigValueType.OBJECT) {
                throw new InvalidConfigException(p.at("divergence-params"), "must be an object of the divergence's "
                        + "parameters", params.getValue("divergence-params").render(), "e.g. { temperature = 2.0 }");
            }
            own = ConfigFactory.parseMap(params.getConfig("divergence-params").root().unwrapped());
            for (Map.Entry<String, ?> e : own.root().entrySet()) {
                if (!c.defaults().hasPath(e.getKey())) {
                    throw new InvalidConfigException(p.at("divergence-params") + "." + e.getKey(), "unknown parameter of "
                            + key, null, String.join(", ", c.defaults().root().keySet()));
                }
            }
        }
        return new RegisteredLoss(context, key, own, owner);
    }
}
