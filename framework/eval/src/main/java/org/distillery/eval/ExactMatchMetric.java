package org.distillery.eval;

import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.text.TextMetrics;

/**
 * {@code eval.exact-match}: the fraction of generated responses equal to their reference after
 * SQuAD's answer normalisation ({@link TextMetrics#normaliseAnswer}: lowercase, ASCII punctuation
 * removed, the articles a/an/the removed, whitespace collapsed). {@code remove-articles = false}
 * keeps the articles, as MiniLLM's {@code rouge_metric.py} does. Figure {@code exact-match}.
 */
public final class ExactMatchMetric extends PredictionMetric {

    /** Registry key. */
    public static final String KEY = "eval.exact-match";

    private final boolean removeArticles;

    /** From validated parameters. */
    public ExactMatchMetric(Config params) {
        super(KEY, params);
        this.removeArticles = params.getBoolean("remove-articles");
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        return Map.of("exact-match", meanOverReferences(ctx,
                s -> TextMetrics.exactMatch(s.prediction(), s.reference(), removeArticles)));
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "exact match of generated and reference responses after SQuAD normalisation";
        }

        @Override
        public Metric create(Config params) {
            return new ExactMatchMetric(params);
        }
    }
}
