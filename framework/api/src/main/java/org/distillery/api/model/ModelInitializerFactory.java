package org.distillery.api.model;

import com.typesafe.config.Config;

/** Contribution kind {@code initializers}: creates a {@link ModelInitializer} from its parameters. */
public interface ModelInitializerFactory extends org.distillery.api.ContributionFactory {

    /** Builds the initialiser from validated parameters. */
    ModelInitializer create(Config params);
}
