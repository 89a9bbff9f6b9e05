package org.distillery.api;

/** What every contribution factory offers the registry, whatever its kind. */
public interface ContributionFactory {

    /** One-line summary for listings. */
    String description();
}
