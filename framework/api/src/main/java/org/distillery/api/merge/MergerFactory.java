package org.distillery.api.merge;

import com.typesafe.config.Config;

/**
 * Contribution kind {@code mergers}. Its defaults live in the bundle's {@code reference.conf} under
 * {@code distillery.mergers."<key>"}; callers reject unknown or mistyped parameters before {@link #create}.
 */
public interface MergerFactory extends org.distillery.api.ContributionFactory {

    /** Builds the merger from validated parameters (defaults filled in). */
    Merger create(Config params);
}
