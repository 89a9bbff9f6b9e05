package org.distillery.eval;

import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.text.TextMetrics;

/**
 * {@code eval.distinct-4}: distinct word n-grams ÷ total word n-grams (n = 4 by default) over
 * all generated responses of the selected tasks, n-grams taken within each response. With the
 * default sampled decoding it is computed per generation seed and averaged, as MiniLLM reports it
 * next to the test loss. Figure {@code distinct-<n>}; NaN when no response has n words.
 */
public final class DistinctMetric extends PredictionMetric {

    /** Registry key. */
    public static final String KEY = "eval.distinct-4";

    private final int n;

    /** From validated parameters. */
    public DistinctMetric(Config params) {
        super(KEY, params);
        this.n = EvalSupport.positiveInt(params, KEY, "n");
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        return Map.of("distinct-" + n, TextMetrics.distinct(selected(ctx).stream().map(Scored::prediction).toList(), n));
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "Distinct-n: distinct / total word n-grams over generated responses (n = 4)";
        }

        @Override
        public Metric create(Config params) {
            return new DistinctMetric(params);
        }
    }
}
