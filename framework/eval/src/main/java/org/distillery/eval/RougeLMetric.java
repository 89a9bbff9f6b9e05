package org.distillery.eval;

import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.kit.text.TextMetrics;

/**
 * {@code eval.rouge-l}: ROUGE-L F-measure of each generated response against its reference,
 * averaged over the records with a reference. Figure {@code rouge-l}, in [0, 1].
 *
 * <p>Tokens: {@code tokenizer = rouge-score} (default) tokenises as the {@code rouge_score}
 * package that MiniLLM's evaluation uses ({@link TextMetrics#rougeTokens}), with the Porter stemmer
 * when {@code stemmer = true} (MiniLLM: {@code use_stemmer=True}); {@code tokenizer = whitespace}
 * compares lowercased whitespace-separated words, punctuation included (Distillery's earlier measure).
 */
public final class RougeLMetric extends PredictionMetric {

    /** Registry key. */
    public static final String KEY = "eval.rouge-l";

    private final boolean rougeScoreTokens;
    private final boolean stem;

    /** From validated parameters. */
    public RougeLMetric(Config params) {
        super(KEY, params);
        String tokenizer = params.getString("tokenizer");
        if (!tokenizer.equals("rouge-score") && !tokenizer.equals("whitespace")) {
            throw new InvalidConfigException(KEY + ".tokenizer", "unknown tokenizer", tokenizer,
                    "rouge-score, whitespace");
        }
        this.rougeScoreTokens = tokenizer.equals("rouge-score");
        this.stem = params.getBoolean("stemmer");
    }

    private List<String> tokens(String text) {
        return rougeScoreTokens ? TextMetrics.rougeTokens(text, stem) : TextMetrics.words(text);
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        return Map.of("rouge-l", meanOverReferences(ctx, s -> TextMetrics.rougeL(tokens(s.prediction()),
                tokens(s.reference()))));
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "ROUGE-L F-measure of generated vs reference responses (rouge_score tokens, Porter stemmer)";
        }

        @Override
        public Metric create(Config params) {
            return new RougeLMetric(params);
        }
    }
}
