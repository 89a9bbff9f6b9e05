package org.distillery.eval;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunResources;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.kit.data.Records;

/**
 * Evaluates one model on a list of records with a list of metrics: resolves every metric from
 * the run's registry first (so a bad key or parameter fails before any work), generates the
 * responses if any metric needs them (in the project's prompt format, batched, stopping at eos
 * after at most {@code maxNewTokens}), then runs the metrics and returns their figures in one
 * flat map.
 *
 * <p>Responses follow a {@link Decoding}: with MiniLLM's protocol ({@link Decoding#paper()}) they
 * are sampled at temperature 1 once per generation seed, every metric that reads them is computed
 * on each seed's responses, and its figures are the means over the seeds (each seed's figures are
 * kept in {@link Result#perSeed()}). Metrics that read no responses (losses, ECE, ExAccErr) run
 * once. Greedy decoding is one pass.
 *
 * <p>Results of a run live in {@code <run-dir>/eval/<model-name>.json} ({@link #evalFile}),
 * where the model name is {@code teacher}, {@code student} or a stage name; {@link #write}
 * writes that file atomically, with the generated responses beside it in
 * {@code <model-name>.predictions.jsonl}. {@link RunComparison} reads them.
 */
public final class Evaluator {

    private static final Gson GSON = new GsonBuilder().setPrettyPrinting().serializeSpecialFloatingPointValues()
            .disableHtmlEscaping().create();
    private static final Gson LINE = new GsonBuilder().serializeSpecialFloatingPointValues().disableHtmlEscaping()
            .create();

    /**
     * One metric to run.
     *
     * @param key registry key, e.g. {@code eval.rouge-l}
     * @param params parameters over the metric's defaults
     * @param prefix prepended to each figure name (e.g. {@code describe/}); "" for none
     */
    public record MetricSpec(String key, Config params, String prefix) {

        /** A metric with its default parameters. */
        public static MetricSpec of(String key) {
            return new MetricSpec(key, ConfigFactory.empty(), "");
        }

        /** A metric with parameters. */
        public static MetricSpec of(String key, Config params) {
            return new MetricSpec(key, params, "");
        }
    }

    /**
     * What an evaluation produced.
     *
     * @param figures every metric's figures by name, in metric order; figures of generated text are
     *     means over the generation seeds
     * @param samples the generated responses of each generation seed, aligned with the records
     *     (empty if no metric needed them)
     * @param perSeed the figures of the metrics that read responses, per generation seed
     * @param decoding how the responses were generated
     * @param seconds wall time of generation ({@code generate}) and of each metric (by key)
     */
    public record Result(Map<String, Double> figures, List<List<String>> samples, Map<Long, Map<String, Double>> perSeed,
                         Decoding decoding, Map<String, Double> seconds) {

        /** The first generation seed's responses, or empty. */
        public List<String> predictions() {
            return samples.isEmpty() ? List.of() : samples.get(0);
        }
    }

    private final RunResources run;
    private final int maxNewTokens;
    private final int batchSize;
    private final Decoding decoding;

    /**
     * A greedy evaluator generating at most {@code maxNewTokens} tokens per response, {@code batchSize}
     * prompts at a time.
     */
    public Evaluator(RunResources run, int maxNewTokens, int batchSize) {
        this(run, maxNewTokens, batchSize, Decoding.greedy());
    }

    /** An evaluator generating with {@code decoding}. */
    public Evaluator(RunResources run, int maxNewTokens, int batchSize, Decoding decoding) {
        if (maxNewTokens < 1 || batchSize < 1) {
            throw new IllegalArgumentException("max-new-tokens and batch-size must be >= 1");
        }
        this.run = run;
        this.maxNewTokens = maxNewTokens;
        this.batchSize = batchSize;
        this.decoding = decoding;
    }

    /**
     * Parses metric specifications from config nodes {@code {key, params, prefix}} ({@code params}
     * and {@code prefix} optional), e.g. an experiment's list of metrics.
     */
    public static List<MetricSpec> specs(List<? extends Config> nodes) {
        List<MetricSpec> out = new ArrayList<>();
        for (Config c : nodes) {
            out.add(new MetricSpec(c.getString("key"), c.hasPath("params") ? c.getConfig("params")
                    : ConfigFactory.empty(), c.hasPath("prefix") ? c.getString("prefix") : ""));
        }
        return out;
    }

    /**
     * Builds a metric from the registry, its parameters checked against the contribution's
     * defaults: an unknown key or parameter, or a value of the wrong type, throws
     * {@link InvalidConfigException}.
     */
    public static Metric resolve(RunResources run, MetricSpec spec) {
        return resolve(run.registry(), spec);
    }

    /** {@link #resolve(RunResources, MetricSpec)} against a registry, e.g. {@link EvalModule#registry()}. */
    public static Metric resolve(ContributionRegistry registry, MetricSpec spec) {
        var c = registry.find(ContributionKind.METRIC, spec.key(), MetricFactory.class)
                .orElseThrow(() -> new InvalidConfigException("metrics", "no registered metric", spec.key(),
                        String.join(", ", registry.list(ContributionKind.METRIC).stream()
                                .map(i -> i.key()).toList())));
        for (var e : spec.params().entrySet()) {
            if (!c.defaults().hasPath(e.getKey())) {
                throw new InvalidConfigException(spec.key() + "." + e.getKey(), "unknown parameter",
                        e.getValue().render(), String.join(", ", c.defaults().root().keySet().stream().sorted().toList()));
            }
        }
        Config params = spec.params().withFallback(c.defaults()).resolve();
        try {
            return c.factory().create(params);
        } catch (ConfigException e) {
            throw new InvalidConfigException(spec.key(), e.getMessage(), null, null);
        }
    }

    /** Runs {@code metrics} on {@code model} (with {@code teacher}, which may be {@code null}). */
    public Result evaluate(LanguageModel model, LanguageModel teacher, Tokenizer tokenizer, List<Example> examples,
                           List<MetricSpec> metrics) {
        List<Metric> resolved = new ArrayList<>();
        boolean needPredictions = false;
        for (MetricSpec s : metrics) {
            Metric m = resolve(run, s);
            resolved.add(m);
            needPredictions |= m.needsPredictions();
        }
        Map<String, Double> seconds = new LinkedHashMap<>();
        List<List<String>> samples = new ArrayList<>();
        if (needPredictions) {
            long t0 = System.nanoTime();
            for (long seed : decoding.seeds()) {
                samples.add(generate(run, model, tokenizer, examples, maxNewTokens, batchSize, decoding, seed));
            }
            seconds.put("generate", (System.nanoTime() - t0) / 1e9);
        }
        List<Example> records = List.copyOf(examples);
        Map<Long, Map<String, Double>> perSeed = new LinkedHashMap<>();
        Map<String, Double> figures = new LinkedHashMap<>();
        for (int i = 0; i < resolved.size(); i++) {
            long t0 = System.nanoTime();
            MetricSpec s = metrics.get(i);
            Metric m = resolved.get(i);
            if (!m.needsPredictions()) {
                m.evaluate(new EvalContext(run, model, teacher, tokenizer, records, List.of()))
                        .forEach((k, v) -> figures.put(s.prefix() + k, v));
            } else {
                Map<String, double[]> bySeed = new LinkedHashMap<>();
                for (int k = 0; k < samples.size(); k++) {
                    long seed = decoding.seeds().get(k);
                    int at = k;
                    m.evaluate(new EvalContext(run, model, teacher, tokenizer, records, samples.get(k))).forEach((f, v) -> {
                        perSeed.computeIfAbsent(seed, x -> new LinkedHashMap<>()).put(s.prefix() + f, v);
                        bySeed.computeIfAbsent(s.prefix() + f, x -> new double[samples.size()])[at] = v;
                    });
                }
                bySeed.forEach((f, values) -> figures.put(f, meanOfFinite(values)));
            }
            seconds.merge(s.prefix() + s.key(), (System.nanoTime() - t0) / 1e9, Double::sum);
        }
        return new Result(figures, samples, perSeed, decoding, seconds);
    }

    /** The mean of the finite values, NaN when there are none. */
    static double meanOfFinite(double[] values) {
        double sum = 0;
        int n = 0;
        for (double v : values) {
            if (Double.isFinite(v)) {
                sum += v;
                n++;
            }
        }
        return n == 0 ? Double.NaN : sum / n;
    }

    /**
     * Greedy responses of {@code model} to each record's prompt ({@link Records#promptIds}, with the
     * record's image for a model that takes images), batched, stopping at eos; "" for text records.
     * The eos is not part of the text.
     */
    public static List<String> generate(RunResources run, LanguageModel model, Tokenizer tok, List<Example> examples,
                                        int maxNewTokens, int batchSize) {
        return generate(run, model, tok, examples, maxNewTokens, batchSize, Decoding.greedy(), 0L);
    }

    /**
     * Responses of {@code model} to each record's prompt as {@code decoding} says, with generation
     * seed {@code seed} (each batch draws from its own seed derived from it), batched, stopping at
     * eos; "" for text records. The eos is not part of the text.
     */
    public static List<String> generate(RunResources run, LanguageModel model, Tokenizer tok, List<Example> examples,
                                        int maxNewTokens, int batchSize, Decoding decoding, long seed) {
        List<Integer> withPrompt = new ArrayList<>();
        List<int[]> prompts = new ArrayList<>();
        List<Example> prompted = new ArrayList<>();
        for (int i = 0; i < examples.size(); i++) {
            Example e = examples.get(i);
            if (Records.hasPrompt(e)) {
                withPrompt.add(i);
                prompts.add(EvalSupport.promptIds(e, tok, model, maxNewTokens));
                prompted.add(e);
            }
        }
        List<String> out = new ArrayList<>(java.util.Collections.nCopies(examples.size(), ""));
        if (prompts.isEmpty()) {
            return out;
        }
        Set<Integer> stops = Set.of(tok.eosId());
        GenerationOptions o = decoding.sample()
                ? new GenerationOptions(maxNewTokens, decoding.temperature(), decoding.topK(), decoding.topP(), stops,
                        seed * 1_000_003L, true)
                : new GenerationOptions(maxNewTokens, 0f, 0, 1f, stops, 0L, true);
        List<int[]> gen = EvalSupport.generate(run, run.models().generator(), model, prompts, prompted, o, batchSize);
        for (int k = 0; k < gen.size(); k++) {
            out.set(withPrompt.get(k), tok.decode(EvalSupport.untilStop(gen.get(k), stops)));
        }
        return out;
    }

    /** {@code <run-dir>/eval/<model-name>.json}. */
    public static Path evalFile(Path runDir, String modelName) {
        return runDir.resolve("eval").resolve(modelName + ".json");
    }

    /**
     * Writes {@code {<info>..., "decoding": {...}, "metrics": {...}, "per-seed": {...}, "seconds": {...}}}
     * to {@code file} atomically and, when there are responses, {@code <file name without .json>.predictions.jsonl}
     * beside it ({@code {id, prompt, reference, prediction, samples, meta}} per line: {@code prediction} is
     * the first generation seed's response, {@code samples} every seed's when there are several;
     * {@code meta} holds the task family).
     */
    public static void write(Path file, Map<String, ?> info, Result result, List<Example> examples) throws IOException {
        JsonObject o = new JsonObject();
        for (Map.Entry<String, ?> e : info.entrySet()) {
            o.add(e.getKey(), GSON.toJsonTree(e.getValue()));
        }
        if (!result.samples().isEmpty()) {
            o.add("decoding", GSON.toJsonTree(result.decoding().toMap()));
        }
        o.add("metrics", GSON.toJsonTree(result.figures()));
        if (result.samples().size() > 1) {
            o.add("per-seed", GSON.toJsonTree(result.perSeed()));
        }
        o.add("seconds", GSON.toJsonTree(result.seconds()));
        if (!result.samples().isEmpty()) {
            StringBuilder sb = new StringBuilder();
            for (int i = 0; i < examples.size() && i < result.predictions().size(); i++) {
                Example e = examples.get(i);
                Map<String, Object> line = new LinkedHashMap<>();
                line.put("id", e.id());
                line.put("prompt", e.prompt());
                if (e.hasImage()) {
                    line.put("image", e.image());
                }
                line.put("reference", Records.hasReference(e) ? Records.responseText(e) : null);
                line.put("prediction", result.predictions().get(i));
                if (result.samples().size() > 1) {
                    int at = i;
                    line.put("samples", result.samples().stream().map(p -> p.get(at)).toList());
                }
                line.put("meta", e.meta());
                sb.append(LINE.toJson(line)).append('\n');
            }
            String name = file.getFileName().toString();
            String base = name.endsWith(".json") ? name.substring(0, name.length() - 5) : name;
            AtomicFiles.writeString(file.resolveSibling(base + ".predictions.jsonl"), sb.toString());
        }
        AtomicFiles.writeString(file, GSON.toJson(o) + "\n");
    }
}
