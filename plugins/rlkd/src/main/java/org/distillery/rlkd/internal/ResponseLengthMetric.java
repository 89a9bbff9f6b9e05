package org.distillery.rlkd.internal;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.config.Params;

/**
 * {@code rl.response-length}: the mean length in tokens of the generated responses (the stop token not
 * counted), over the records of {@code tasks} (all when empty). Figure {@code response-length}.
 *
 * <pre>
 * metrics = [ { key = rl.response-length, params { tasks = [reasoning] } } ]
 * </pre>
 */
final class ResponseLengthMetric implements Metric {

    /** Registry key. */
    static final String KEY = "rl.response-length";

    private final List<String> tasks;

    ResponseLengthMetric(List<String> tasks) {
        this.tasks = tasks;
    }

    @Override
    public boolean needsPredictions() {
        return true;
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<String> predictions = ctx.predictions();
        if (predictions == null || predictions.size() != ctx.examples().size()) {
            throw new IllegalStateException(KEY + " needs one prediction per record");
        }
        List<Integer> idx = AccuracyMetric.selected(ctx.examples(), tasks, null);
        double sum = 0;
        for (int i : idx) {
            sum += ctx.tokenizer().encode(predictions.get(i)).length;
        }
        return Map.of("response-length", idx.isEmpty() ? Double.NaN : sum / idx.size());
    }

    /** The factory. */
    static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "mean tokens of the generated responses";
        }

        @Override
        public Metric create(Config params) {
            return new ResponseLengthMetric(Params.of(params, KEY).strings("tasks"));
        }
    }
}
