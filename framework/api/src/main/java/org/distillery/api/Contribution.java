package org.distillery.api;

/**
 * A contribution resolved from the registry: its factory and where it comes from.
 *
 * @param info provenance of the factory
 * @param factory the factory, of the kind's {@link ContributionKind#factoryType()}
 * @param defaults the contribution's default parameters from its bundle's {@code reference.conf}
 * @param <F> the factory type
 */
public record Contribution<F>(ContributionInfo info, F factory, com.typesafe.config.Config defaults) {
}
