package org.distillery.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;

/**
 * {@code eval.ece}: zero-shot classification of yes/no records by the model's probabilities, and
 * its expected calibration error.
 *
 * <p>A record counts when its {@code meta.task} equals {@code task} and its {@code meta.label} is
 * one of {@code labels} (case-insensitive). For each label word {@code w} the model scores the
 * answer {@code w} after the record's prompt in the project's format: with
 * {@code mode = sequence}, {@code log p(w eos | prompt)}, the probability that the model answers
 * exactly {@code w} and stops (right for label words of several tokens); with
 * {@code mode = first-token}, the next-token log-probability of the first token of {@code w}.
 * The prediction is the label with the highest score; its confidence is its probability
 * renormalised over the label set, {@code p_w / Σ_v p_v} (in [1/k, 1]). ECE uses
 * {@code bins} equal-width bins over [0, 1] ({@link Calibration#ece}).
 *
 * <p>Figures: {@code ece}, {@code ece.accuracy} (fraction predicted right), {@code ece.n}.
 */
public final class EceMetric implements Metric {

    /** Registry key. */
    public static final String KEY = "eval.ece";

    private final int bins;
    private final List<String> labels;
    private final String task;
    private final boolean sequence;
    private final int batchSize;
    private final int maxLength;

    /** From validated parameters. */
    public EceMetric(Config params) {
        this.bins = EvalSupport.positiveInt(params, KEY, "bins");
        this.labels = params.getStringList("labels");
        if (labels.size() < 2) {
            throw new InvalidConfigException(KEY + ".labels", "needs at least two label words", labels.toString(),
                    "e.g. [yes, no]");
        }
        this.task = params.getString("task");
        String mode = params.getString("mode");
        if (!mode.equals("sequence") && !mode.equals("first-token")) {
            throw new InvalidConfigException(KEY + ".mode", "unknown mode", mode, "sequence, first-token");
        }
        this.sequence = mode.equals("sequence");
        this.batchSize = EvalSupport.positiveInt(params, KEY, "batch-size");
        this.maxLength = EvalSupport.positiveInt(params, KEY, "max-length");
    }

    @Override
    public boolean needsPredictions() {
        return false;
    }

    /** Index of {@code label} among the label words, ignoring case, or -1. */
    private int labelIndex(String label) {
        if (label == null) {
            return -1;
        }
        for (int i = 0; i < labels.size(); i++) {
            if (labels.get(i).toLowerCase(Locale.ROOT).equals(label.trim().toLowerCase(Locale.ROOT))) {
                return i;
            }
        }
        return -1;
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<Integer> truth = new ArrayList<>();
        List<Example> candidates = new ArrayList<>();
        for (Example e : ctx.examples()) {
            if (e.meta() == null || !task.equals(e.meta().get("task")) || (e.prompt() == null && e.messages().isEmpty())) {
                continue;
            }
            int y = labelIndex(e.meta().get("label"));
            if (y < 0) {
                continue;
            }
            truth.add(y);
            for (String w : labels) {
                candidates.add(withResponse(e, w));
            }
        }
        int n = truth.size();
        int k = labels.size();
        List<float[]> lps = EvalSupport.tokenLogProbs(ctx.resources(), ctx.model(), ctx.tokenizer(), candidates, maxLength,
                batchSize);
        double[] confidence = new double[n];
        boolean[] correct = new boolean[n];
        double right = 0;
        for (int i = 0; i < n; i++) {
            double[] score = new double[k];
            for (int j = 0; j < k; j++) {
                float[] lp = lps.get(i * k + j);
                double s = 0;
                if (sequence) {
                    for (float v : lp) {
                        s += v;
                    }
                } else {
                    s = lp.length == 0 ? Double.NEGATIVE_INFINITY : lp[0];
                }
                score[j] = s;
            }
            double[] p = normalised(score);
            int pred = 0;
            for (int j = 1; j < k; j++) {
                if (p[j] > p[pred]) {
                    pred = j;
                }
            }
            confidence[i] = p[pred];
            correct[i] = pred == truth.get(i);
            right += correct[i] ? 1 : 0;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("ece", Calibration.ece(confidence, correct, bins));
        out.put("ece.accuracy", n == 0 ? Double.NaN : right / n);
        out.put("ece.n", (double) n);
        return out;
    }

    /** {@code exp(s_j) / Σ exp(s)}, computed stably; uniform when every score is -inf. */
    static double[] normalised(double[] logScores) {
        double max = Double.NEGATIVE_INFINITY;
        for (double s : logScores) {
            max = Math.max(max, s);
        }
        double[] p = new double[logScores.length];
        if (max == Double.NEGATIVE_INFINITY) {
            java.util.Arrays.fill(p, 1.0 / p.length);
            return p;
        }
        double z = 0;
        for (int j = 0; j < p.length; j++) {
            p[j] = Math.exp(logScores[j] - max);
            z += p[j];
        }
        for (int j = 0; j < p.length; j++) {
            p[j] /= z;
        }
        return p;
    }

    /** The record with its reference replaced by {@code response}. */
    static Example withResponse(Example e, String response) {
        if (e.prompt() != null) {
            return Example.pair(e.id(), e.prompt(), response, e.meta() == null ? Map.of() : e.meta());
        }
        List<Example.Message> msgs = new ArrayList<>(e.messages());
        if (!msgs.isEmpty() && msgs.get(msgs.size() - 1).role().equals("assistant")) {
            msgs.remove(msgs.size() - 1);
        }
        msgs.add(new Example.Message("assistant", response));
        return Example.chat(e.id(), msgs);
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "yes/no accuracy and expected calibration error (equal-width bins) from label-word probabilities";
        }

        @Override
        public Metric create(Config params) {
            return new EceMetric(params);
        }
    }
}
