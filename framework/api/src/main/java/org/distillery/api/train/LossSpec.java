package org.distillery.api.train;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * One weighted term of a training loss: {@code { key = kd.forward-kl, weight = 1.0, params {...} }}.
 *
 * @param key the registry key of the loss
 * @param weight its weight in the sum of terms
 * @param params its parameters as written (laid over the loss's defaults), never {@code null}
 */
public record LossSpec(String key, double weight, Config params) {

    /** Never {@code null} parameters. */
    public LossSpec {
        params = params == null ? ConfigFactory.empty() : params;
    }

    /** A term of weight 1 without parameters. */
    public static LossSpec of(String key) {
        return new LossSpec(key, 1.0, ConfigFactory.empty());
    }
}
