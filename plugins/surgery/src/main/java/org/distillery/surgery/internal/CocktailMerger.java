package org.distillery.surgery.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.Merger;
import org.distillery.api.merge.MergerFactory;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.kit.config.Params;

/**
 * {@code merge.cocktail}: LM-Cocktail (Xiao et al., "LM-Cocktail: Resilient Tuning of Language Models via
 * Model Merging", arXiv 2311.13534; FlagEmbedding {@code research/LM_Cocktail}, METHODS.md §12 and A12).
 * The first model is the target model M_t, fine-tuned on the target task; the others are the candidates
 * M_1..M_n (the base model and models fine-tuned on other tasks). Each candidate's loss L_i is its mean
 * response-token cross-entropy on a few target examples E (as {@code eval.lm-loss} reports it: the
 * figure {@code loss-figure} of the metric {@code loss-metric}, looked up in the registry), then
 * <pre>
 *   w_i = softmax_i(−L_i / τ)                       (τ = temperature, default 5, the reference code's)
 *   M_r = α · M_t + (1 − α) · Σ_i w_i M_i           (α = alpha)
 * </pre>
 * merged tensor by tensor as {@code merge.linear} does with these effective weights. With
 * {@code include-target = true} the target is a candidate as well (α = 0 then is the reference code's
 * {@code mix_models_with_data}). The losses are computed one model at a time, each loaded and closed in
 * turn. With two models (fine-tuned and base) w = [1] and the cocktail is the linear mix at α.
 *
 * <p>Parameters: {@code examples} (JSONL, {@code stage:<name>}, or {@code ""} for the experiment's
 * validation file), {@code examples-tasks} (keep records whose {@code meta.task} is listed; [] = all),
 * {@code examples-limit} (the first N, default 5 as the README suggests), {@code temperature},
 * {@code alpha}, {@code include-target}, {@code tokenizer-dir} ({@code ""}: the target model's folder),
 * {@code loss-metric}, {@code loss-figure}.
 * <pre>
 * distill merge out/ fine-tuned/ base/ other-task/ --method cocktail --examples target.jsonl
 * merger { key = merge.cocktail, params { examples = "stage:target-examples", alpha = 0.5 } }
 * </pre>
 */
final class CocktailMerger implements Merger {

    /** Registry key. */
    static final String KEY = "merge.cocktail";

    private final Config params;

    CocktailMerger(Config params) {
        this.params = params;
    }

    @Override
    public MergeResult merge(MergeContext context) throws IOException {
        Params p = Params.of(params, context.paramsPath());
        double temperature = p.positive("temperature");
        double alpha = p.probability("alpha");
        boolean includeTarget = p.bool("include-target");
        try (MergeInputs in = MergeInputs.open(context, includeTarget ? 1 : 2, Integer.MAX_VALUE)) {
            List<Example> examples = examples(context, p);
            List<Integer> candidates = new ArrayList<>();
            for (int i = includeTarget ? 0 : 1; i < in.size(); i++) {
                candidates.add(i);
            }
            Tokenizer tokenizer = tokenizer(context, p, in.dirs().get(0));
            Metric metric = metric(context.resources(), p);
            String figure = p.string("loss-figure");
            double[] losses = new double[candidates.size()];
            for (int k = 0; k < candidates.size(); k++) {
                losses[k] = loss(context.resources(), metric, figure, in.dirs().get(candidates.get(k)), tokenizer,
                        examples, p);
            }
            double[] w = softmaxOfNegative(losses, temperature);
            List<Double> weights = new ArrayList<>();
            for (int i = 0; i < in.size(); i++) {
                weights.add(i == 0 ? alpha : 0.0);
            }
            for (int k = 0; k < candidates.size(); k++) {
                int i = candidates.get(k);
                weights.set(i, weights.get(i) + (1 - alpha) * w[k]);
            }
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("target", in.dirs().get(0).toString());
            Map<String, Double> lossByModel = new LinkedHashMap<>();
            Map<String, Double> candidateWeights = new LinkedHashMap<>();
            for (int k = 0; k < candidates.size(); k++) {
                lossByModel.put(in.dirs().get(candidates.get(k)).toString(), losses[k]);
                candidateWeights.put(in.dirs().get(candidates.get(k)).toString(), w[k]);
            }
            details.put("losses", lossByModel);
            details.put("candidate-weights", candidateWeights);
            details.put("temperature", temperature);
            details.put("alpha", alpha);
            details.put("examples", examples.size());
            context.resources().events().event(KEY, details);
            return LinearMerger.merge(context, in, weights, KEY, params, details);
        }
    }

    /** softmax_i(−L_i / τ), computed stably in doubles. */
    static double[] softmaxOfNegative(double[] losses, double temperature) {
        double max = Double.NEGATIVE_INFINITY;
        for (double l : losses) {
            max = Math.max(max, -l / temperature);
        }
        double[] w = new double[losses.length];
        double z = 0;
        for (int i = 0; i < losses.length; i++) {
            w[i] = Math.exp(-losses[i] / temperature - max);
            z += w[i];
        }
        for (int i = 0; i < w.length; i++) {
            w[i] /= z;
        }
        return w;
    }

    private static List<Example> examples(MergeContext context, Params p) {
        String ref = p.string("examples");
        if (ref.isEmpty() && context.datasets().file(Datasets.Split.VALIDATION).isEmpty()) {
            throw new InvalidConfigException(p.at("examples"), "is required: a few examples of the target task",
                    "\"\"", "a JSONL file of {prompt, response} records, or stage:<name>");
        }
        List<String> tasks = p.strings("examples-tasks");
        List<Example> selected = new ArrayList<>();
        for (Example e : context.datasets().read(ref, Datasets.Split.VALIDATION, p.at("examples"))) {
            if (tasks.isEmpty() || (e.meta() != null && tasks.contains(e.meta().get("task")))) {
                selected.add(e);
            }
        }
        int limit = p.integer("examples-limit", 0);
        if (limit > 0 && selected.size() > limit) {
            selected = selected.subList(0, limit);
        }
        if (selected.isEmpty()) {
            throw new InvalidConfigException(p.at("examples"), "has no records" + (tasks.isEmpty() ? ""
                    : " of the tasks " + tasks), ref, "a JSONL file with records of the target task");
        }
        return List.copyOf(selected);
    }

    private static Tokenizer tokenizer(MergeContext context, Params p, Path target) {
        String dir = p.string("tokenizer-dir");
        Path from = dir.isEmpty() ? target : Path.of(dir);
        try {
            return context.resources().models().tokenizer(from);
        } catch (IOException | RuntimeException e) {
            throw new InvalidConfigException(p.at("tokenizer-dir"), "cannot load a tokenizer from " + from + ": "
                    + e.getMessage(), dir, "a folder with tokenizer.json or tokenizer_config.json");
        }
    }

    private static Metric metric(RunResources resources, Params p) {
        String key = p.string("loss-metric");
        var c = resources.registry().find(ContributionKind.METRIC, key, MetricFactory.class)
                .orElseThrow(() -> new InvalidConfigException(p.at("loss-metric"), "no registered metric", key,
                        String.join(", ", resources.registry().list(ContributionKind.METRIC).stream()
                                .map(i -> i.key()).toList())));
        return c.factory().create(c.defaults());
    }

    /** The figure the metric reports for the model in {@code dir} on the examples; the model is closed after. */
    private static double loss(RunResources resources, Metric metric, String figure, Path dir, Tokenizer tokenizer,
                               List<Example> examples, Params p) throws IOException {
        try (NDManager scope = resources.manager().newSubManager();
             LanguageModel model = resources.models().load(dir, DataType.FLOAT32, scope)) {
            Map<String, Double> figures = metric.evaluate(new EvalContext(resources, model, null, tokenizer, examples,
                    List.of()));
            Double v = figures.get(figure);
            if (v == null) {
                throw new InvalidConfigException(p.at("loss-figure"), "the metric reports no such figure", figure,
                        String.join(", ", figures.keySet()));
            }
            if (!Double.isFinite(v)) {
                throw new IllegalStateException(KEY + ": the loss of " + dir + " on the examples is " + v
                        + " (no response tokens counted?)");
            }
            return v;
        }
    }

    /** Builds {@link CocktailMerger}. */
    static final class Factory implements MergerFactory {
        @Override
        public String description() {
            return "LM-Cocktail: weights softmax(-loss/T) on target examples, mixed with the fine-tuned model at alpha";
        }

        @Override
        public Merger create(Config params) {
            return new CocktailMerger(params);
        }
    }
}
