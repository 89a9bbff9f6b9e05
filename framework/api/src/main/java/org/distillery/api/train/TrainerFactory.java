package org.distillery.api.train;

/** Contribution kind {@code trainers}. */
public interface TrainerFactory {

    /** One-line summary for listings. */
    String description();

    /** Creates the stage runner. */
    Trainer create();
}
