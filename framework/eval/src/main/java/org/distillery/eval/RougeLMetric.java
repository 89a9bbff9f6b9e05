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
 * {@code eval.rouge-l}: ROUGE-L F-measure of each generated response against its reference, on
 * lowercased whitespace tokens (optionally with punctuation removed), averaged over records.
 * Figure {@code rouge-l}, in [0, 1].
 */
public final class RougeLMetric implements Metric {

    /** Registry key. */
    public static final String KEY = "eval.rouge-l";

    private final boolean stripPunctuation;
    private final List<String> tasks;

    /** From validated parameters. */
    public RougeLMetric(Config params) {
        this.stripPunctuation = params.getBoolean("strip-punctuation");
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
            sum += TextMetrics.rougeL(preds.get(i), Records.responseText(ctx.examples().get(i)), stripPunctuation);
        }
        return Map.of("rouge-l", idx.isEmpty() ? Double.NaN : sum / idx.size());
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "ROUGE-L F-measure (LCS of lowercased words) of generated vs reference responses";
        }

        @Override
        public Metric create(Config params) {
            return new RougeLMetric(params);
        }
    }
}
