package org.distillery.rlkd.internal;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.config.Params;

/**
 * {@code rl.accuracy}: the fraction of greedy responses whose final answer (the last
 * {@code <answer>…</answer>}) equals the record's reference answer {@code meta.<answer-key>}, checked as
 * {@code reward.exact-answer} checks it (a response without the tags is wrong); and the fraction of
 * well-formed {@code <think>…</think><answer>…</answer>} responses. Figures {@code accuracy} and
 * {@code format}, over the records with a reference answer (and, when {@code tasks} is not empty, one
 * of those {@code meta.task}s); NaN when there are none.
 *
 * <pre>
 * metrics = [ { key = rl.accuracy, params { tasks = [reasoning-ood] }, prefix = "ood." } ]
 * </pre>
 */
final class AccuracyMetric implements Metric {

    /** Registry key. */
    static final String KEY = "rl.accuracy";

    private final String answerKey;
    private final boolean numeric;
    private final List<String> tasks;

    AccuracyMetric(String answerKey, boolean numeric, List<String> tasks) {
        this.answerKey = answerKey;
        this.numeric = numeric;
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
        double correct = 0;
        double formatted = 0;
        int n = 0;
        for (int i : selected(ctx.examples(), tasks, answerKey)) {
            String p = predictions.get(i);
            n++;
            correct += Answers.correct(p, ctx.examples().get(i).meta().get(answerKey), numeric, false) ? 1 : 0;
            formatted += Answers.wellFormed(p, true) ? 1 : 0;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("accuracy", n == 0 ? Double.NaN : correct / n);
        out.put("format", n == 0 ? Double.NaN : formatted / n);
        return out;
    }

    /** Indices of the records with {@code meta.<answerKey>} and (if {@code tasks} is not empty) one of the tasks. */
    static List<Integer> selected(List<Example> examples, List<String> tasks, String answerKey) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            Map<String, String> meta = examples.get(i).meta();
            if (meta != null && (answerKey == null || meta.containsKey(answerKey))
                    && (tasks.isEmpty() || tasks.contains(meta.get("task")))) {
                out.add(i);
            }
        }
        return out;
    }

    /** The factory. */
    static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "accuracy of the final <answer> against meta.answer, and the rate of well-formed reasoning responses";
        }

        @Override
        public Metric create(Config params) {
            Params p = Params.of(params, KEY);
            String key = p.string("answer-key");
            if (key.isBlank()) {
                throw new InvalidConfigException(p.at("answer-key"), "is required", "\"\"", "e.g. answer");
            }
            return new AccuracyMetric(key, p.bool("numeric"), p.strings("tasks"));
        }
    }
}
