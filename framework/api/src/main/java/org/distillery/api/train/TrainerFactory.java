package org.distillery.api.train;

/** Contribution kind {@code trainers}. */
public interface TrainerFactory extends org.distillery.api.ContributionFactory {

    /** Creates the stage runner. */
    Trainer create();
}
