package org.distillery.api;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

/**
 * A {@code {key, params}} node: the registry key of a contribution and the parameters given to it
 * (laid over the contribution's defaults when it is built).
 *
 * @param key the registry key, e.g. {@code data.dataset}
 * @param params the parameters as written, never {@code null}
 */
public record ContributionRef(String key, Config params) {

    /** Never {@code null} parameters. */
    public ContributionRef {
        params = params == null ? ConfigFactory.empty() : params;
    }

    /** A reference without parameters. */
    public static ContributionRef of(String key) {
        return new ContributionRef(key, ConfigFactory.empty());
    }
}
