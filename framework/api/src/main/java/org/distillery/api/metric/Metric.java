package org.distillery.api.metric;

import java.util.Map;

/** Computes one or more named figures, e.g. {@code rouge-l} or {@code exaccerr@64}. */
public interface Metric {

    /** True if the metric needs generated predictions in its context. */
    boolean needsPredictions();

    /** The figures, by name. */
    Map<String, Double> evaluate(EvalContext context);
}
