package org.distillery.api;

/**
 * What the registry knows about one published contribution.
 *
 * @param kind the contribution kind
 * @param key the registry key, e.g. {@code kd.forward-kl}
 * @param bundle the symbolic name of the bundle that provides it
 * @param version the version of that bundle
 * @param description a one-line summary for listings
 */
public record ContributionInfo(ContributionKind kind, String key, String bundle, String version, String description) {

    /** {@code key@bundle/version}, as written to event logs. */
    public String coordinates() {
        return key + "@" + bundle + "/" + version;
    }
}
