package org.distillery.gkd.internal;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.function.Supplier;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;

/**
 * {@code gkd.on-policy}: the data side of GKD (Agarwal et al., "On-Policy Distillation of
 * Language Models: Learning from Self-Generated Mistakes", arXiv 2306.13649; defaults of TRL's
 * {@code GKDConfig}). It draws (prompt, response) micro-batches from the training file, reshuffled
 * every epoch like {@code data.dataset}, and for each micro-batch draws u ~ U(0,1):
 * <ul>
 *   <li>u &lt; λ: the responses are replaced by the live student's own samples (no gradient;
 *       sampling temperature, top-k, top-p, at most {@code max-new-tokens} and never past
 *       {@code train.max-length});</li>
 *   <li>otherwise the dataset responses, or the in-process teacher's samples when
 *       {@code seq-kd = true}.</li>
 * </ul>
 * (u &lt; λ and TRL's u ≤ λ differ only on a set of probability zero, and u &lt; λ makes λ = 0
 * and λ = 1 exact.) The loss counts the response tokens, and eos when it was produced. The
 * divergence is an ordinary loss term, e.g. kd-core's {@code kd.jsd} with β; its temperature is
 * not the sampling temperature.
 *
 * <p>Randomness: one generator from {@code run.random("gkd.on-policy")}; per micro-batch it
 * draws u ({@code nextDouble}) and then the generation seed ({@code nextLong}), both always, so the
 * stream does not depend on λ. The position {@code epoch:index:batches} restores the data order
 * and the generator (replayed), so a resumed run draws the same batches.
 *
 * <pre>
 * train {
 *   sampler { key = gkd.on-policy, params { lambda = 0.5, temperature = 0.9, max-new-tokens = 128 } }
 *   loss = [ { key = kd.jsd, params { beta = 0.5, temperature = 1.0 } } ]
 * }
 * </pre>
 */
final class OnPolicySampler implements Sampler {

    /** Registry key. */
    static final String KEY = "gkd.on-policy";

    /** Where a micro-batch's responses came from. */
    enum Source { DATASET, STUDENT, TEACHER }

    /**
     * The sampler's parameters, range-checked.
     *
     * @param lambda probability that a micro-batch is the student's own samples
     * @param seqKd non-student micro-batches use teacher samples instead of dataset responses
     * @param temperature sampling temperature of student and teacher samples (0 = greedy)
     * @param topK keep the k most likely tokens when sampling; 0 disables
     * @param topP nucleus mass when sampling; 1 disables
     * @param maxNewTokens tokens generated at most per response
     * @param shuffle reshuffle the records every epoch
     */
    record Settings(double lambda, boolean seqKd, float temperature, int topK, float topP, int maxNewTokens,
                    boolean shuffle) {

        /** Reads and checks {@code p}; errors name the parameter under its path. */
        static Settings of(Params p) {
            double topP = p.number("top-p");
            if (!(topP > 0 && topP <= 1)) {
                throw new InvalidConfigException(p.at("top-p"), "out of range", String.valueOf(topP),
                        "(0, 1] (1 disables)");
            }
            return new Settings(p.probability("lambda"), p.bool("seq-kd"), (float) p.nonNegative("temperature"),
                    p.integer("top-k", 0), (float) topP, p.integer("max-new-tokens", 1), p.bool("shuffle"));
        }
    }

    /** One record's prompt (bos first when the tokenizer has one) and reference response (eos last). */
    record Pair(int[] prompt, int[] response) {
    }


    private final List<Pair> pairs;
    private final Settings settings;
    private final int batchSize;
    private final int maxLength;
    private final int padId;
    private final int eosId;
    private final long dataSeed;
    private final Supplier<Random> randomSource;
    private final Generator generator;
    private final LanguageModel student;
    private final LanguageModel teacher;
    private List<Integer> order;
    private int epoch;
    private int index;
    private long batches;
    private Random random;
    private Source lastSource;

    OnPolicySampler(List<Pair> pairs, Settings settings, SamplerContext ctx, Supplier<Random> randomSource,
                    LanguageModel teacher) {
        this.pairs = pairs;
        this.settings = settings;
        this.batchSize = ctx.batchSize();
        this.maxLength = ctx.maxLength();
        this.padId = ctx.tokenizer().padId();
        this.eosId = ctx.tokenizer().eosId();
        this.dataSeed = ctx.resources().seed();
        this.randomSource = randomSource;
        this.generator = ctx.resources().models().generator();
        this.student = ctx.student();
        this.teacher = teacher;
        reorder(0);
        this.random = randomSource.get();
    }

    private void reorder(int newEpoch) {
        epoch = newEpoch;
        index = 0;
        List<Integer> idx = new ArrayList<>(pairs.size());
        for (int i = 0; i < pairs.size(); i++) {
            idx.add(i);
        }
        if (settings.shuffle()) {
            Collections.shuffle(idx, new Random(dataSeed * 1_000_003L + epoch));
        }
        order = idx;
    }

    @Override
    public TokenBatch next(NDManager manager) {
        List<Pair> rows = new ArrayList<>(batchSize);
        while (rows.size() < batchSize) {
            if (index >= order.size()) {
                reorder(epoch + 1);
            }
            rows.add(pairs.get(order.get(index++)));
        }
        double u = random.nextDouble();
        long generationSeed = random.nextLong();
        batches++;
        Source source = u < settings.lambda() ? Source.STUDENT : settings.seqKd() ? Source.TEACHER : Source.DATASET;
        lastSource = source;
        List<Records.Encoded> seqs = new ArrayList<>(rows.size());
        if (source == Source.DATASET) {
            for (Pair p : rows) {
                seqs.add(Records.join(p.prompt(), p.response(), maxLength));
            }
        } else {
            List<int[]> responses = sample(source == Source.STUDENT ? student : teacher, rows, generationSeed, manager);
            for (int i = 0; i < rows.size(); i++) {
                seqs.add(Records.join(rows.get(i).prompt(), responses.get(i), maxLength));
            }
        }
        return Records.batch(seqs, padId, manager);
    }

    /**
     * Samples one response per row from {@code model} (no gradient is recorded: the trainer
     * draws batches outside its gradient collector, and the generator runs inference forwards).
     */
    private List<int[]> sample(LanguageModel model, List<Pair> rows, long seed, NDManager manager) {
        int shortest = Integer.MAX_VALUE;
        List<int[]> prompts = new ArrayList<>(rows.size());
        for (Pair p : rows) {
            prompts.add(p.prompt());
            shortest = Math.min(shortest, p.prompt().length);
        }
        int newTokens = Math.min(settings.maxNewTokens(), maxLength - shortest);
        if (newTokens <= 0) {
            return Collections.nCopies(rows.size(), new int[0]);
        }
        GenerationOptions options = new GenerationOptions(newTokens, settings.temperature(), settings.topK(),
                settings.topP(), Set.of(eosId), seed, true);
        try (NDManager scratch = manager.newSubManager()) {
            GenerationResult r = generator.generate(model, prompts, options, scratch);
            return r.tokens();
        }
    }

    /** Where the last micro-batch's responses came from (for tests and diagnostics). */
    Source lastSource() {
        return lastSource;
    }

    @Override
    public String position() {
        return epoch + ":" + index + ":" + batches;
    }

    @Override
    public void seek(String position) {
        String[] parts = position.split(":");
        if (parts.length != 3) {
            throw new IllegalArgumentException("not a " + KEY + " position (epoch:index:batches): " + position);
        }
        reorder(Integer.parseInt(parts[0]));
        index = Integer.parseInt(parts[1]);
        long n = Long.parseLong(parts[2]);
        random = randomSource.get();
        for (long i = 0; i < n; i++) {
            random.nextDouble();
            random.nextLong();
        }
        batches = n;
    }

    /** The factory. */
    static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "GKD: per micro-batch, with probability lambda the student's own samples, else dataset "
                    + "responses (or teacher samples with seq-kd)";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            Settings s = Settings.of(Params.of(params, ctx.paramsPath()));
            LanguageModel teacher = null;
            if (s.seqKd() && s.lambda() < 1) {
                teacher = ctx.teacher() == null ? null : ctx.teacher().model().orElse(null);
                if (teacher == null) {
                    throw new InvalidConfigException(ctx.paramsPath() + ".seq-kd", "needs an in-process teacher to "
                            + "generate responses, and teacher " + (ctx.teacher() == null ? "is not set"
                            : ctx.teacher().identity() + " has no model"), "true",
                            "false, or teacher.key = teacher.local");
                }
            }
            if (s.lambda() > 0 && ctx.student() == null) {
                throw new IllegalStateException(KEY + " needs the live student to sample from");
            }
            String file = params.getString("file");
            String path = file.isEmpty() ? "data.train-file" : ctx.paramsPath() + ".file";
            List<Example> examples = ctx.datasets().read(file, Datasets.Split.TRAIN, ctx.paramsPath() + ".file");
            if (examples.isEmpty()) {
                throw new InvalidConfigException(path, "has no records", file, "a non-empty JSONL file");
            }
            List<Pair> pairs = new ArrayList<>(examples.size());
            for (Example e : examples) {
                if (!Records.hasPrompt(e)) {
                    throw new InvalidConfigException(path, "record " + e.id() + " has no prompt; on-policy sampling "
                            + "continues prompts", file, "{prompt, response} or {messages} records");
                }
                pairs.add(new Pair(Records.promptIds(e, ctx.tokenizer()), Records.responseIds(e, ctx.tokenizer())));
            }
            return new OnPolicySampler(pairs, s, ctx, () -> ctx.resources().random(KEY), teacher);
        }
    }
}
