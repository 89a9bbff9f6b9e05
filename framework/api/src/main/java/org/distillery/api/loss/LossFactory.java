package org.distillery.api.loss;

import com.typesafe.config.Config;

import org.distillery.api.run.RunContext;

/**
 * Contribution kind {@code losses}. Its defaults live in the bundle's {@code reference.conf}
 * under {@code distillery.losses."<key>"}; the kernel rejects unknown or mistyped parameters
 * before calling {@link #create}.
 */
public interface LossFactory extends org.distillery.api.ContributionFactory {

    /**
     * Builds the loss.
     *
     * @param run the run, for dimensions of its models and a manager for learned parameters
     * @param params the validated parameters, defaults filled in
     */
    Loss create(RunContext run, Config params);
}
