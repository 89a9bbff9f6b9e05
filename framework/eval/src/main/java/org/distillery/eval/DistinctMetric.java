package org.distillery.eval;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.text.TextMetrics;

/**
 * {@code eval.distinct-4}: distinct word n-grams ÷ total word n-grams (n = 4 by default) over
 * all generated responses, n-grams taken within each response. Figure {@code distinct-<n>};
 * NaN when no response has n words.
 */
public final class DistinctMetric implements Metric {

    /** Registry key. */
    public static final String KEY = "eval.distinct-4";

    private final int n;
    private final List<String> tasks;

    /** From validated parameters. */
    public DistinctMetric(Config params) {
        this.n = EvalSupport.positiveInt(params, KEY, "n");
        this.tasks = params.getStringList("tasks");
    }

    @Override
    public boolean needsPredictions() {
        return true;
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<String> preds = EvalSupport.predictions(ctx, KEY);
        List<String> texts = new ArrayList<>();
        for (int i = 0; i < preds.size(); i++) {
            if (EvalSupport.inTasks(ctx.examples().get(i), tasks)) {
                texts.add(preds.get(i));
            }
        }
        return Map.of("distinct-" + n, TextMetrics.distinct(texts, n));
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
