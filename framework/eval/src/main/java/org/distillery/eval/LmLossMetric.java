package org.distillery.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;

/**
 * {@code eval.lm-loss}: mean token cross-entropy (nats) of the model on the reference responses
 * and their eos (every token of text records), the same tokens the trainer's loss counts, pooled
 * over all records; and the perplexity {@code exp(lm-loss)}. Figures {@code lm-loss},
 * {@code ppl}, {@code lm-loss.tokens}.
 */
public final class LmLossMetric implements Metric {

    /** Registry key. */
    public static final String KEY = "eval.lm-loss";

    private final int maxLength;
    private final int batchSize;
    private final List<String> tasks;

    /** From validated parameters. */
    public LmLossMetric(Config params) {
        this.maxLength = EvalSupport.positiveInt(params, KEY, "max-length");
        this.batchSize = EvalSupport.positiveInt(params, KEY, "batch-size");
        this.tasks = params.getStringList("tasks");
    }

    @Override
    public boolean needsPredictions() {
        return false;
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<Example> selected = new ArrayList<>();
        for (Example e : ctx.examples()) {
            if (EvalSupport.inTasks(e, tasks)) {
                selected.add(e);
            }
        }
        double sum = 0;
        long count = 0;
        for (float[] lp : EvalSupport.tokenLogProbs(ctx.resources(), ctx.model(), ctx.tokenizer(), selected, maxLength,
                batchSize)) {
            for (float v : lp) {
                sum -= v;
            }
            count += lp.length;
        }
        double loss = count == 0 ? Double.NaN : sum / count;
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("lm-loss", loss);
        out.put("ppl", Math.exp(loss));
        out.put("lm-loss.tokens", (double) count);
        return out;
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "mean token cross-entropy on reference responses (+ eos) and perplexity";
        }

        @Override
        public Metric create(Config params) {
            return new LmLossMetric(params);
        }
    }
}
