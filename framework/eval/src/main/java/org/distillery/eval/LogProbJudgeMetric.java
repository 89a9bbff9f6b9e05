package org.distillery.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;

/**
 * {@code eval.judge-logprob}: a judge model scores each generated response by its own likelihood.
 *
 * <p>The score of a response is the judge's mean per-token log-probability of the response and
 * its eos given the prompt, in the project's prompt format — how plausible a model that is good
 * at the task finds the answer. It is not the papers' judge (that is {@code eval.judge}, a
 * rubric prompt to a capable model, see {@link JudgeMetric}); it needs no instruction following,
 * so the small models this project trains and ships can serve as judges, and it is deterministic.
 * The judge is the model folder in {@code model-dir}, with its own tokenizer (the evaluation
 * tokenizer when the folder has none), or the context's teacher when {@code model-dir} is empty.
 *
 * <p>Figures: {@code judge.logprob} (mean over records of the per-response score of the
 * predictions). With {@code compare-reference}, also {@code judge.ref-logprob} (the same for the
 * reference responses) and {@code judge.win-rate}: the fraction of records whose prediction
 * scores at least as high as the reference (ties count ½), in the spirit of MiniLLM's GPT-4
 * feedback score relative to the reference. Mean log-probability favours short and repetitive
 * answers; read it next to ROUGE-L and Distinct-4.
 */
public final class LogProbJudgeMetric extends PredictionMetric {

    /** Registry key. */
    public static final String KEY = "eval.judge-logprob";

    private final String modelDir;
    private final int batchSize;
    private final int maxLength;
    private final boolean compareReference;

    /** From validated parameters. */
    public LogProbJudgeMetric(Config params) {
        super(KEY, params);
        this.modelDir = params.getString("model-dir");
        this.batchSize = EvalSupport.positiveInt(params, KEY, "batch-size");
        this.maxLength = EvalSupport.positiveInt(params, KEY, "max-length");
        this.compareReference = params.getBoolean("compare-reference");
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<Example> answered = new ArrayList<>();
        List<Example> references = new ArrayList<>();
        for (Scored s : withReference(ctx)) {
            answered.add(EceMetric.withResponse(s.example(), s.prediction()));
            references.add(s.example());
        }
        if (!modelDir.isEmpty()) {
            Path dir = Path.of(modelDir);
            try (NDManager m = ctx.resources().manager().newSubManager();
                 LanguageModel judge = ctx.resources().models().load(dir, DataType.FLOAT32, m)) {
                return score(ctx, judge, judgeTokenizer(ctx, dir), answered, references);
            } catch (IOException e) {
                throw new UncheckedIOException(KEY + ": cannot load the judge model " + dir + ": " + e.getMessage(), e);
            }
        }
        if (ctx.teacher() == null) {
            throw new IllegalStateException(KEY + " needs a judge: set its model-dir parameter or give a teacher");
        }
        return score(ctx, ctx.teacher(), ctx.tokenizer(), answered, references);
    }

    private static Tokenizer judgeTokenizer(EvalContext ctx, Path dir) throws IOException {
        boolean has = Files.exists(dir.resolve("tokenizer.json")) || Files.exists(dir.resolve("tokenizer_config.json"));
        return has ? ctx.resources().models().tokenizer(dir) : ctx.tokenizer();
    }

    private Map<String, Double> score(EvalContext ctx, LanguageModel judge, Tokenizer tok, List<Example> answered,
                                      List<Example> references) {
        double[] pred = meanLogProbs(EvalSupport.tokenLogProbs(ctx.resources(), judge, tok, answered, maxLength, batchSize));
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("judge.logprob", mean(pred));
        if (compareReference) {
            double[] ref = meanLogProbs(EvalSupport.tokenLogProbs(ctx.resources(), judge, tok, references, maxLength,
                    batchSize));
            double wins = 0;
            for (int i = 0; i < pred.length; i++) {
                wins += pred[i] > ref[i] ? 1 : pred[i] == ref[i] ? 0.5 : 0;
            }
            out.put("judge.ref-logprob", mean(ref));
            out.put("judge.win-rate", pred.length == 0 ? Double.NaN : wins / pred.length);
        }
        return out;
    }

    /** Mean of each record's token log-probabilities (the response's score). */
    static double[] meanLogProbs(List<float[]> lps) {
        double[] out = new double[lps.size()];
        for (int i = 0; i < out.length; i++) {
            float[] lp = lps.get(i);
            double s = 0;
            for (float v : lp) {
                s += v;
            }
            out[i] = lp.length == 0 ? Double.NaN : s / lp.length;
        }
        return out;
    }

    private static double mean(double[] v) {
        double s = 0;
        int n = 0;
        for (double x : v) {
            if (!Double.isNaN(x)) {
                s += x;
                n++;
            }
        }
        return n == 0 ? Double.NaN : s / n;
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "judge score: a judge model's mean log-probability of each response (and win rate vs the reference)";
        }

        @Override
        public Metric create(Config params) {
            return new LogProbJudgeMetric(params);
        }
    }
}
