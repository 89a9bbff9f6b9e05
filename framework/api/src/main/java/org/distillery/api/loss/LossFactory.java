package org.distillery.api.loss;

import com.typesafe.config.Config;

/**
 * Contribution kind {@code losses}. Its defaults live in the bundle's {@code reference.conf}
 * under {@code distillery.losses."<key>"}; the kernel rejects unknown or mistyped parameters
 * before calling {@link #create}.
 */
public interface LossFactory extends org.distillery.api.ContributionFactory {
    /**
     * Builds the loss.
     *
     * @param context the models' shapes, a manager for learned parameters, the seed and the registry
     * @param params the validated parameters, defaults filled in
     */
    Loss create(LossContext context, Config params);
}
