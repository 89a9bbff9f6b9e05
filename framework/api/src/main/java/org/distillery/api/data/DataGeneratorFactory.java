package org.distillery.api.data;

import com.typesafe.config.Config;

/** Contribution kind {@code generators}: creates a {@link DataGenerator} from its parameters. */
public interface DataGeneratorFactory extends org.distillery.api.ContributionFactory {

    /** Builds the generator from validated parameters. */
    DataGenerator create(Config params);
}
