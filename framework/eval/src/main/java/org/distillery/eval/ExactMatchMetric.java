package org.distillery.eval;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.data.Records;
import org.distillery.kit.text.TextMetrics;

/**
 * {@code eval.exact-match}: the fraction of generated responses equal to their reference after
 * normalisation (trim, lowercase, runs of whitespace collapsed). Figure {@code exact-match}.
 */
public final class ExactMatchMetric implements Metric {

    /** Registry key. */
    public static final String KEY = "eval.exact-match";

    private final List<String> tasks;

    /** From validated parameters. */
    public ExactMatchMetric(Config params) {
        this.tasks = params.getStringList("tasks");
    }

    @Override
    public boolean needsPredictions() {
        return true;
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<String> preds = EvalSupport.predictions(ctx, KEY);
        List<Integer> idx = EvalSupport.withReference(ctx.examples(), tasks);
        double sum = 0;
        for (int i : idx) {
            sum += TextMetrics.exactMatch(preds.get(i), Records.responseText(ctx.examples().get(i)));
        }
        return Map.of("exact-match", idx.isEmpty() ? Double.NaN : sum / idx.size());
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "exact match of generated and reference responses (trimmed, lowercased, spaces collapsed)";
        }

        @Override
        public Metric create(Config params) {
            return new ExactMatchMetric(params);
        }
    }
}
