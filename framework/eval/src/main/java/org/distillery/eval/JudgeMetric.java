package org.distillery.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.run.RunContext;
import org.distillery.kit.data.Records;
import org.distillery.kit.openai.ClientOptions;
import org.distillery.kit.openai.OpenAiClient;
import org.distillery.kit.openai.ResponseCache;

/**
 * {@code eval.judge}: the rubric judge of MiniLLM's GPT-4 feedback (Gu et al., arXiv 2306.08543,
 * following Vicuna's review prompt): a capable model sees the instruction, the reference answer
 * and the candidate answer, and gives each a score from 1 to 10; the candidate is reported
 * relative to the reference.
 *
 * <p>The prompt is {@code template} with {@code {question}} (the record's prompt text),
 * {@code {answer_1}}, {@code {answer_2}} and {@code {criteria}} filled in, sent after the
 * {@code system} message; the defaults are Vicuna's pairwise review prompt. With
 * {@code order = reference-first} (MiniLLM's choice) assistant 1 is the reference and assistant 2
 * the candidate; {@code candidate-first} swaps them; {@code both} asks twice, once in each order,
 * to cancel the judge's position bias. The two scores are read from the reply's first line (the
 * format the rubric asks for), tolerating labels such as "Assistant 1: 8" and "8/10"; a reply
 * without exactly two scores in {@code score-range} is unparsed: it is counted and left out, never
 * scored as 0.
 *
 * <p>Backends: {@code backend = endpoint} calls any OpenAI-compatible server through
 * {@code kit.openai} (a hosted API, or a model served by {@code distill serve}), {@code concurrency}
 * requests at a time with retries; {@code backend = local} generates with a model folder
 * ({@code model-dir}, or the evaluation's teacher when empty) in process, in its chat template.
 * Every reply is cached on disk by the exact request ({@code cache-dir}; by default
 * {@code <run-dir>/cache/judge} in a run, {@code ~/.cache/distillery/judge} otherwise), so a
 * repeated evaluation asks nothing twice.
 *
 * <p>Figures: {@code judge.score} (the candidates' mean score), {@code judge.ref-score} (the
 * references' mean score on the same replies), {@code judge.relative} (the candidates' total over
 * the references' total, MiniLLM's figure), {@code judge.n} (replies read) and
 * {@code judge.unparsed} (replies that could not be read).
 *
 * <pre>
 * { key = eval.judge, params { endpoint { base-url = "https://api.openai.com/v1", model = gpt-4,
 *                                         api-key-env = OPENAI_API_KEY } } }
 * </pre>
 */
public final class JudgeMetric extends PredictionMetric {

    /** Registry key. */
    public static final String KEY = "eval.judge";

    private static final Pattern LABEL = Pattern.compile("(?i)(assistant|answer)\\s*[12]\\s*[:=\\-]?|score[s]?\\s*[:=]?");
    private static final Pattern OUT_OF_TEN = Pattern.compile("/\\s*10(\\.0+)?\\b");
    private static final Pattern NUMBER = Pattern.compile("-?\\d+(?:\\.\\d+)?");

    private final Config params;
    private final boolean endpoint;
    private final String system;
    private final String template;
    private final String criteria;
    private final String order;
    private final int maxTokens;
    private final double temperature;
    private final double lo;
    private final double hi;
    private final String cacheDir;
    private final String modelDir;
    private final int batchSize;

    /** From validated parameters. */
    public JudgeMetric(Config params) {
        super(KEY, params);
        this.params = params;
        String backend = params.getString("backend");
        if (!backend.equals("endpoint") && !backend.equals("local")) {
            throw new InvalidConfigException(KEY + ".backend", "unknown backend", backend, "endpoint, local");
        }
        this.endpoint = backend.equals("endpoint");
        if (endpoint && params.getString("endpoint.base-url").isBlank()) {
            throw new InvalidConfigException(KEY + ".endpoint.base-url", "is required with backend = endpoint", "\"\"",
                    "an OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (distill serve) or a hosted API");
        }
        this.system = params.getString("system");
        this.template = params.getString("template");
        for (String placeholder : List.of("{question}", "{answer_1}", "{answer_2}")) {
            if (!template.contains(placeholder)) {
                throw new InvalidConfigException(KEY + ".template", "lacks " + placeholder, template,
                        "a prompt with {question}, {answer_1}, {answer_2} (and optionally {criteria})");
            }
        }
        this.criteria = params.getString("criteria");
        this.order = params.getString("order");
        if (!Set.of("reference-first", "candidate-first", "both").contains(order)) {
            throw new InvalidConfigException(KEY + ".order", "unknown order", order,
                    "reference-first, candidate-first, both");
        }
        this.maxTokens = EvalSupport.positiveInt(params, KEY, "max-tokens");
        this.temperature = params.getDouble("temperature");
        if (!(temperature >= 0)) {
            throw new InvalidConfigException(KEY + ".temperature", "must be >= 0", Double.toString(temperature), ">= 0");
        }
        List<Double> range = params.getDoubleList("score-range");
        if (range.size() != 2 || !(range.get(0) < range.get(1))) {
            throw new InvalidConfigException(KEY + ".score-range", "needs [low, high] with low < high", range.toString(),
                    "e.g. [1, 10]");
        }
        this.lo = range.get(0);
        this.hi = range.get(1);
        this.cacheDir = params.getString("cache-dir");
        this.modelDir = params.getString("model-dir");
        this.batchSize = EvalSupport.positiveInt(params, KEY, "batch-size");
    }

    /**
     * The two scores of a reply: the first non-blank line, with "Assistant 1:"-style labels and
     * "/10" suffixes removed, must hold exactly two numbers within {@code [lo, hi]}; otherwise
     * {@link Optional#empty()}.
     */
    static Optional<double[]> parseScores(String reply, double lo, double hi) {
        if (reply == null) {
            return Optional.empty();
        }
        for (String line : reply.split("\\R")) {
            if (line.isBlank()) {
                continue;
            }
            String cleaned = OUT_OF_TEN.matcher(LABEL.matcher(line).replaceAll(" ")).replaceAll(" ");
            List<Double> numbers = new ArrayList<>();
            Matcher m = NUMBER.matcher(cleaned);
            while (m.find()) {
                numbers.add(Double.parseDouble(m.group()));
            }
            if (numbers.size() != 2) {
                return Optional.empty();
            }
            for (double v : numbers) {
                if (!(v >= lo && v <= hi)) {
                    return Optional.empty();
                }
            }
            return Optional.of(new double[] {numbers.get(0), numbers.get(1)});
        }
        return Optional.empty();
    }

    /** The user message asking about {@code question} with the two answers in this order. */
    String prompt(String question, String first, String second) {
        return template.replace("{criteria}", criteria).replace("{question}", question).replace("{answer_1}", first)
                .replace("{answer_2}", second);
    }

    /** One question to the judge: its user message and whether assistant 1 is the reference. */
    private record Ask(String user, boolean referenceFirst, int record) {
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        List<Scored> scored = withReference(ctx);
        List<Ask> asks = new ArrayList<>();
        for (int i = 0; i < scored.size(); i++) {
            Scored s = scored.get(i);
            String question = Records.promptText(s.example(), ctx.tokenizer()).strip();
            if (!order.equals("candidate-first")) {
                asks.add(new Ask(prompt(question, s.reference(), s.prediction()), true, i));
            }
            if (!order.equals("reference-first")) {
                asks.add(new Ask(prompt(question, s.prediction(), s.reference()), false, i));
            }
        }
        List<String> replies = endpoint ? askEndpoint(ctx, asks) : askLocal(ctx, asks);
        double candidateSum = 0;
        double referenceSum = 0;
        int parsed = 0;
        int unparsed = 0;
        for (int k = 0; k < asks.size(); k++) {
            Optional<double[]> scores = parseScores(replies.get(k), lo, hi);
            if (scores.isEmpty()) {
                unparsed++;
                continue;
            }
            boolean refFirst = asks.get(k).referenceFirst();
            referenceSum += scores.get()[refFirst ? 0 : 1];
            candidateSum += scores.get()[refFirst ? 1 : 0];
            parsed++;
        }
        Map<String, Double> out = new LinkedHashMap<>();
        out.put("judge.score", parsed == 0 ? Double.NaN : candidateSum / parsed);
        out.put("judge.ref-score", parsed == 0 ? Double.NaN : referenceSum / parsed);
        out.put("judge.relative", parsed == 0 || referenceSum == 0 ? Double.NaN : candidateSum / referenceSum);
        out.put("judge.n", (double) parsed);
        out.put("judge.unparsed", (double) unparsed);
        return out;
    }

    private Path cache(EvalContext ctx) {
        if (!cacheDir.isEmpty()) {
            return Path.of(cacheDir);
        }
        if (ctx.resources() instanceof RunContext run) {
            return run.runDir().resolve("cache").resolve("judge");
        }
        return Path.of(System.getProperty("user.home"), ".cache", "distillery", "judge");
    }

    private List<Tokenizer.ChatTurn> turns(String user) {
        List<Tokenizer.ChatTurn> turns = new ArrayList<>();
        if (!system.isEmpty()) {
            turns.add(new Tokenizer.ChatTurn("system", system));
        }
        turns.add(new Tokenizer.ChatTurn("user", user));
        return turns;
    }

    private List<String> askEndpoint(EvalContext ctx, List<Ask> asks) {
        Config e = params.getConfig("endpoint");
        String keyEnv = e.getString("api-key-env");
        String key = keyEnv.isEmpty() ? null : System.getenv(keyEnv);
        if (!keyEnv.isEmpty() && (key == null || key.isEmpty())) {
            throw new InvalidConfigException(KEY + ".endpoint.api-key-env", "names an unset environment variable",
                    keyEnv, "a variable holding the endpoint's API key, or \"\" for none");
        }
        String api = e.getString("api");
        if (!api.equals("chat") && !api.equals("completion")) {
            throw new InvalidConfigException(KEY + ".endpoint.api", "unknown api", api, "chat, completion");
        }
        ClientOptions options;
        try {
            options = ClientOptions.of(URI.create(e.getString("base-url")), e.getString("model")).withApiKey(key)
                    .withConcurrency(e.getInt("concurrency"))
                    .withRetries(e.getInt("max-retries"), Duration.ofMillis(500), Duration.ofSeconds(30))
                    .withTimeout(e.getDuration("timeout")).withCache(cache(ctx));
        } catch (IllegalArgumentException ex) {
            throw new InvalidConfigException(KEY + ".endpoint", ex.getMessage(), e.root().render(), null);
        }
        try (OpenAiClient client = new OpenAiClient(options)) {
            ExecutorService pool = Executors.newFixedThreadPool(options.concurrency());
            try {
                List<Future<String>> replies = new ArrayList<>();
                for (Ask a : asks) {
                    replies.add(pool.submit(() -> api.equals("chat") ? client.chatText(turns(a.user()), maxTokens,
                            temperature, 0L) : client.completeText(completionPrompt(a.user()), maxTokens, temperature, 0L)));
                }
                List<String> out = new ArrayList<>(asks.size());
                for (Future<String> f : replies) {
                    out.add(f.get());
                }
                return out;
            } catch (ExecutionException ex) {
                throw ex.getCause() instanceof RuntimeException r ? r : new IllegalStateException(ex.getCause());
            } catch (InterruptedException ex) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException(KEY + ": interrupted while asking the judge", ex);
            } finally {
                pool.shutdownNow();
            }
        }
    }

    private String completionPrompt(String user) {
        return (system.isEmpty() ? "" : system + "\n\n") + user;
    }

    private List<String> askLocal(EvalContext ctx, List<Ask> asks) {
        if (modelDir.isEmpty()) {
            if (ctx.teacher() == null) {
                throw new IllegalStateException(KEY + " with backend = local needs a judge: set model-dir or give a "
                        + "teacher");
            }
            return generateLocal(ctx, ctx.teacher(), ctx.tokenizer(), asks);
        }
        Path dir = Path.of(modelDir);
        try (NDManager m = ctx.resources().manager().newSubManager();
             LanguageModel judge = ctx.resources().models().load(dir, DataType.FLOAT32, m)) {
            boolean ownTokenizer = Files.exists(dir.resolve("tokenizer.json"))
                    || Files.exists(dir.resolve("tokenizer_config.json"));
            Tokenizer tok = ownTokenizer ? ctx.resources().models().tokenizer(dir) : ctx.tokenizer();
            return generateLocal(ctx, judge, tok, asks);
        } catch (IOException e) {
            throw new UncheckedIOException(KEY + ": cannot load the judge model " + dir + ": " + e.getMessage(), e);
        }
    }

    /**
     * An identity of a model's weights for the cache: every parameter's name, shape, sum and sum of
     * squares (one pass over the weights, far cheaper than judging with them).
     */
    static String weightsFingerprint(LanguageModel model, NDManager scope) {
        StringBuilder sb = new StringBuilder("local:");
        try (NDManager m = scope.newSubManager()) {
            for (Map.Entry<String, ai.djl.ndarray.NDArray> p : new java.util.TreeMap<>(model.parameters()).entrySet()) {
                ai.djl.ndarray.NDArray w = p.getValue().toType(DataType.FLOAT64, true);
                w.attach(m);
                ai.djl.ndarray.NDArray sum = w.sum();
                sum.attach(m);
                ai.djl.ndarray.NDArray squares = w.square().sum();
                squares.attach(m);
                sb.append(p.getKey()).append(p.getValue().getShape()).append(':').append(sum.getDouble()).append(':')
                        .append(squares.getDouble()).append(';');
            }
        }
        return sb.toString();
    }

    private List<String> generateLocal(EvalContext ctx, LanguageModel judge, Tokenizer tok, List<Ask> asks) {
        ResponseCache cache = new ResponseCache(cache(ctx));
        String identity = weightsFingerprint(judge, ctx.resources().manager());
        String[] out = new String[asks.size()];
        List<Integer> missing = new ArrayList<>();
        List<String> keys = new ArrayList<>();
        for (int k = 0; k < asks.size(); k++) {
            String body = system + "\u0000" + asks.get(k).user() + "\u0000" + maxTokens + "\u0000" + temperature;
            String key = ResponseCache.key(identity, "judge", "", body);
            keys.add(key);
            Optional<String> hit = cache.get(key);
            if (hit.isPresent()) {
                out[k] = hit.get();
            } else {
                missing.add(k);
            }
        }
        if (!missing.isEmpty()) {
            List<int[]> prompts = new ArrayList<>();
            for (int k : missing) {
                int[] ids = Records.promptIds(turns(asks.get(k).user()), tok);
                int room = Math.max(2, judge.config().maxPositions() - maxTokens);
                prompts.add(ids.length <= room ? ids : Records.truncatePrompt(ids, room, tok));
            }
            Set<Integer> stops = Set.of(tok.eosId());
            GenerationOptions o = new GenerationOptions(maxTokens, (float) temperature, 0, 1f, stops, 0L, true);
            List<int[]> gen = EvalSupport.generate(ctx.resources(), ctx.resources().models().generator(), judge, prompts,
                    o, batchSize);
            for (int i = 0; i < missing.size(); i++) {
                int k = missing.get(i);
                out[k] = tok.decode(EvalSupport.untilStop(gen.get(i), stops));
                try {
                    cache.put(keys.get(k), out[k]);
                } catch (IOException e) {
                    throw new UncheckedIOException(KEY + ": cannot write the judge cache " + cache.dir() + ": "
                            + e.getMessage(), e);
                }
            }
        }
        return List.of(out);
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "rubric judge (MiniLLM's GPT-4 feedback, Vicuna's prompt): candidate vs reference scores from "
                    + "an OpenAI-compatible endpoint or a local model";
        }

        @Override
        public Metric create(Config params) {
            return new JudgeMetric(params);
        }
    }
}
