package org.distillery.api.sampler;

import com.typesafe.config.Config;

/** Contribution kind {@code samplers}. */
public interface SamplerFactory extends org.distillery.api.ContributionFactory {

    /** Builds a sampler from validated parameters. */
    Sampler create(SamplerContext context, Config params);
}
