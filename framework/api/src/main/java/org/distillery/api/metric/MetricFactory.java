package org.distillery.api.metric;

import com.typesafe.config.Config;

/** Contribution kind {@code metrics}. */
public interface MetricFactory extends org.distillery.api.ContributionFactory {

    /** Builds the metric from validated parameters. */
    Metric create(Config params);
}
