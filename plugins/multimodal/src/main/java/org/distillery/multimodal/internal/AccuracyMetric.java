package org.distillery.multimodal.internal;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;

import com.typesafe.config.Config;

import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;

/**
 * {@code mm.accuracy}: the fraction of questions answered exactly, overall ({@code accuracy}) and
 * per question type ({@code accuracy.<task>}, from each record's {@code meta.task}), as visual
 * question-answering benchmarks score short answers. A record counts when it has a
 * {@code meta.label} (the answer) and its task is in {@code tasks} (empty: every task not in
 * {@code exclude}, by default the captions). Answers compare after trimming, lower-casing,
 * collapsing spaces and dropping a final full stop.
 * <pre>
 * metrics = [ { key = mm.accuracy, params { exclude = [caption] } } ]
 * </pre>
 */
final class AccuracyMetric implements Metric {

    /** Registry key. */
    static final String KEY = "mm.accuracy";

    private final List<String> tasks;
    private final List<String> exclude;

    AccuracyMetric(List<String> tasks, List<String> exclude) {
        this.tasks = tasks;
        this.exclude = exclude;
    }

    @Override
    public boolean needsPredictions() {
        return true;
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<String> preds = ctx.predictions();
        if (preds == null || preds.size() != ctx.examples().size()) {
            throw new IllegalStateException(KEY + " needs one prediction per record");
        }
        Map<String, int[]> byTask = new TreeMap<>();
        int right = 0;
        int total = 0;
        for (int i = 0; i < preds.size(); i++) {
            Example e = ctx.examples().get(i);
            String label = e.meta() == null ? null : e.meta().get("label");
            String task = e.meta() == null ? null : e.meta().getOrDefault("task", "");
            if (label == null || task == null || !(tasks.isEmpty() ? !exclude.contains(task) : tasks.contains(task))) {
                continue;
            }
            boolean ok = normalize(preds.get(i)).equals(normalize(label));
            int[] c = byTask.computeIfAbsent(task, k -> new int[2]);
            c[0] += ok ? 1 : 0;
            c[1]++;
            right += ok ? 1 : 0;
            total++;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("accuracy", total == 0 ? Double.NaN : (double) right / total);
        byTask.forEach((task, c) -> out.put("accuracy." + task, (double) c[0] / c[1]));
        return out;
    }

    static String normalize(String s) {
        String t = s.trim().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
        return t.endsWith(".") ? t.substring(0, t.length() - 1).trim() : t;
    }

    /** The factory. */
    static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "exact-answer accuracy overall and per question type (meta.task), captions excluded";
        }

        @Override
        public Metric create(Config params) {
            return new AccuracyMetric(params.getStringList("tasks"), params.getStringList("exclude"));
        }
    }
}
