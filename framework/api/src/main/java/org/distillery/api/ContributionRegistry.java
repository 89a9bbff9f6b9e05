package org.distillery.api;

import java.util.List;
import java.util.Optional;

/**
 * The kernel's registry of contributions, keyed by kind and name. It reflects the bundles
 * installed at the moment of the call: a contribution whose bundle was updated or removed
 * is replaced or gone at the next lookup. Runs look up their losses at every step.
 */
public interface ContributionRegistry {

    /** The contribution registered under {@code key}, if any bundle provides it now. */
    <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> factoryType);

    /** Every contribution of a kind, sorted by key. */
    List<ContributionInfo> list(ContributionKind kind);
}
