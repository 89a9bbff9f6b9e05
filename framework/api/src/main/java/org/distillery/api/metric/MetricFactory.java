package org.distillery.api.metric;

import com.typesafe.config.Config;

/** Contribution kind {@code metrics}. */
public interface MetricFactory {

    /** One-line summary for listings. */
    String description();

    /** Builds the metric from validated parameters. */
    Metric create(Config params);
}
