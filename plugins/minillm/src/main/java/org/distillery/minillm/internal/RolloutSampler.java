package org.distillery.minillm.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;
import org.distillery.api.teacher.Teacher;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.rollout.Rollout;
import org.distillery.kit.rollout.RolloutBuffer;
import org.distillery.kit.rollout.RolloutRounds;
import org.distillery.kit.rollout.SeededOrder;

/**
 * {@code minillm.rollout}: MiniLLM's rollout buffer inside {@code train.kd} (Gu et al.,
 * arXiv 2306.08543, Algorithm 1; reference code microsoft/LMOps {@code minillm/sampler.py}).
 *
 * <p>Each round it takes {@code rollout-size} prompts of the instruction data (a reshuffled
 * stream, like {@code data.dataset}), samples one response per prompt from the teacher-mixed
 * distribution p̃ = α·p + (1−α)·q_θ with pure sampling at temperature 1, then scores the
 * sequences with the student (now q_old) and the teacher, without gradients, and stores per
 * response token log q_old, log p, the importance weight, the reward and the length-normalised
 * return (see {@link RolloutMath}). It serves the buffer as micro-batches of {@code train.batch-size}
 * rollouts for {@code ppo-epochs} passes, each in its own seeded order, then samples the next
 * round with the current student. The advantages are the returns whitened per micro-batch, over
 * the rows' responses padded with zeros to the longest (LMOps whitens inside each PPO minibatch's
 * loss; {@code whiten-advantages = minibatch}), or once over the whole buffer ({@code buffer},
 * Distillery's earlier choice), or not at all ({@code none}). Every micro-batch also carries {@code pt-batch-size} rows of
 * the pre-training corpus {@code pt-file} ({@code {text}} records) for {@code minillm.pt}, in
 * the same forward pass.
 *
 * <p>The batch's loss mask counts rollout response tokens only; the per-token values are in
 * {@link TokenBatch#extras()} under the names of {@link Extras}. Its position is
 * {@code round:epoch:index:pt-cursor}; the buffer itself (the kit's {@link RolloutBuffer}, with the
 * values under the names of {@link Extras}) is written into each checkpoint ({@link #saveState}), so a
 * resumed run continues mid-buffer exactly. Every draw is seeded from
 * {@code run.random("minillm.rollout")} and the round, epoch or cursor ({@link SeededOrder}).
 *
 * <pre>
 * train.sampler { key = minillm.rollout, params { rollout-size = 256, alpha = 0.2, ppo-epochs = 4,
 *                 pt-file = ${DISTILL_HOME}/config/data/suite/corpus.jsonl } }
 * </pre>
 */
final class RolloutSampler implements Sampler {

    /** Registry key. */
    static final String KEY = "minillm.rollout";


    private final SamplerContext ctx;
    private final Settings s;
    private final Teacher teacher;
    private final LanguageModel teacherModel;
    private final Generator generator;
    private final List<int[]> prompts;
    private final List<int[]> corpus;
    private final int corpusPromptLength;
    private final long seed;
    private final Map<Long, List<Integer>> promptOrders = new HashMap<>();
    private final Map<Long, List<Integer>> corpusOrders = new HashMap<>();

    private final RolloutRounds rounds;
    private long corpusCursor;

    /**
     * The checked parameters.
     *
     * @param rolloutSize prompts per round
     * @param generationBatchSize sequences decoded and scored together
     * @param maxPromptLength prompt tokens at most (longer prompts keep bos and their end)
     * @param maxNewTokens response tokens at most (also bounded by train.max-length)
     * @param alpha teacher share of the sampling mixture
     * @param ppoEpochs passes over each buffer
     * @param gamma discount of the long-term return
     * @param includeCurrentReward whether the return at t includes r_t
     * @param lengthNorm divide returns by the number of rewards they sum
     * @param whiten where advantages are whitened: minibatch, buffer or none
     * @param rewardScaling rewards are divided by it
     * @param rewardClip rewards are clipped to ± it
     * @param ptBatchSize corpus rows per micro-batch
     */
    record Settings(int rolloutSize, int generationBatchSize, int maxPromptLength, int maxNewTokens, double alpha,
                    int ppoEpochs, double gamma, boolean includeCurrentReward, boolean lengthNorm, String whiten,
                    double rewardScaling, double rewardClip, int ptBatchSize) {

        static Settings of(Config params, SamplerContext ctx) {
            Params p = Params.of(params, ctx.paramsPath());
            int maxPrompt = p.integer("max-prompt-length", 0);
            if (maxPrompt == 0) {
                maxPrompt = Math.max(1, ctx.maxLength() / 2);
            }
            if (maxPrompt >= ctx.maxLength()) {
                throw new InvalidConfigException(p.at("max-prompt-length"), "leaves no room for a response within "
                        + "train.max-length = " + ctx.maxLength(), String.valueOf(maxPrompt), "< train.max-length");
            }
            int gen = p.integer("generation-batch-size", 0);
            int pt = p.integer("pt-batch-size", 0);
            if (params.getString("pt-file").isEmpty()) {
                pt = 0;
            } else if (pt == 0) {
                pt = ctx.batchSize();
            }
            return new Settings(p.integer("rollout-size", 1), gen == 0 ? ctx.batchSize() : gen, maxPrompt,
                    p.integer("max-new-tokens", 0), p.probability("alpha"), p.integer("ppo-epochs", 1),
                    p.probability("gamma"), p.bool("include-current-reward"), p.bool("length-norm"),
                    p.choice("whiten-advantages", "minibatch", "buffer", "none"), p.positive("reward-scaling"),
                    p.positive("reward-clip"), pt);
        }
    }

    RolloutSampler(SamplerContext ctx, Settings s, Generator generator, List<int[]> prompts, List<int[]> corpus,
                   int corpusPromptLength, long seed) {
        this.ctx = ctx;
        this.s = s;
        this.teacher = ctx.teacher();
        this.teacherModel = teacher.model().orElseThrow();
        this.generator = generator;
        this.prompts = prompts;
        this.corpus = corpus;
        this.corpusPromptLength = corpusPromptLength;
        this.seed = seed;
        this.rounds = new RolloutRounds(KEY, seed, s.ppoEpochs());
    }

    @Override
    public TokenBatch next(NDManager manager) {
        List<Rollout> rows = rounds.next(ctx.batchSize(), r -> sampleRound(r, manager));
        if (s.whiten().equals("minibatch")) {
            List<float[]> whitened = RolloutMath.whitenPadded(rows.stream().map(r -> r.value(Extras.ADVANTAGES)).toList());
            for (int i = 0; i < rows.size(); i++) {
                rows.set(i, rows.get(i).with(Extras.ADVANTAGES, whitened.get(i)));
            }
        }
        List<int[]> pt = new ArrayList<>(s.ptBatchSize());
        for (int i = 0; i < s.ptBatchSize(); i++) {
            pt.add(corpusRow(corpusCursor++));
        }
        return assemble(rows, pt, corpusPromptLength, ctx.tokenizer().padId(), manager);
    }

    @Override
    public String position() {
        return rounds.position() + ":" + corpusCursor;
    }

    @Override
    public void seek(String position) {
        int cut = position.lastIndexOf(':');
        try {
            rounds.seek(position.substring(0, Math.max(0, cut)));
            corpusCursor = Long.parseLong(position.substring(cut + 1));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("not a " + KEY + " position: " + position
                    + " (expected round:epoch:index:pt-cursor)");
        }
    }

    @Override
    public void saveState(Path dir) throws IOException {
        rounds.save(dir);
    }

    @Override
    public void restoreState(Path dir) throws IOException {
        rounds.restore(dir);
    }

    /** The current buffer, for tests. */
    RolloutBuffer buffer() {
        return rounds.buffer();
    }

    /** Samples and scores one round of rollouts with the current student. */
    private RolloutBuffer sampleRound(long r, NDManager manager) {
        long t0 = System.nanoTime();
        List<int[]> roundPrompts = new ArrayList<>(s.rolloutSize());
        for (int i = 0; i < s.rolloutSize(); i++) {
            long g = r * s.rolloutSize() + i;
            long promptEpoch = g / prompts.size();
            List<Integer> order = promptOrders.computeIfAbsent(promptEpoch,
                    e -> SeededOrder.shuffled(prompts.size(), SeededOrder.mix(seed, 2, e)));
            promptOrders.keySet().removeIf(e -> e < promptEpoch - 1);
            roundPrompts.add(prompts.get(order.get((int) (g % prompts.size()))));
        }
        MixedHook hook = new MixedHook(s.alpha());
        Tokenizer tok = ctx.tokenizer();
        List<Rollout> scored = new ArrayList<>(roundPrompts.size());
        for (int from = 0, chunk = 0; from < roundPrompts.size(); from += s.generationBatchSize(), chunk++) {
            List<int[]> batch = roundPrompts.subList(from, Math.min(roundPrompts.size(), from + s.generationBatchSize()));
            int shortest = Integer.MAX_VALUE;
            for (int[] p : batch) {
                shortest = Math.min(shortest, p.length);
            }
            int maxNew = ctx.maxLength() - shortest;
            if (s.maxNewTokens() > 0) {
                maxNew = Math.min(maxNew, s.maxNewTokens());
            }
            GenerationOptions options = new GenerationOptions(maxNew, 1f, 0, 1f, Set.of(tok.eosId()),
                    SeededOrder.mix(seed, 3, r, chunk), true);
            List<int[]> sequences = new ArrayList<>(batch.size());
            List<Integer> promptLengths = new ArrayList<>(batch.size());
            try (NDManager gm = manager.newSubManager()) {
                GenerationResult out = generator.generateMixed(ctx.student(), teacherModel, hook, batch, options, gm);
                for (int i = 0; i < batch.size(); i++) {
                    int[] p = batch.get(i);
                    int[] resp = out.tokens().get(i);
                    int keep = Math.min(resp.length, ctx.maxLength() - p.length);
                    int[] ids = new int[p.length + keep];
                    System.arraycopy(p, 0, ids, 0, p.length);
                    System.arraycopy(resp, 0, ids, p.length, keep);
                    sequences.add(ids);
                    promptLengths.add(p.length);
                }
            }
            scored.addAll(score(sequences, promptLengths, manager));
        }
        List<float[]> advantages = new ArrayList<>(scored.size());
        scored.forEach(x -> advantages.add(x.value(Extras.ADVANTAGES)));
        if (s.whiten().equals("buffer")) {
            RolloutMath.whiten(advantages);
        }
        Map<String, Object> fig = new LinkedHashMap<>();
        fig.put("round", r);
        fig.put("rollouts", scored.size());
        fig.put("response-tokens", scored.stream().mapToInt(Rollout::responseLength).average().orElse(0));
        fig.put("reward", mean(scored, Extras.REWARDS));
        fig.put("importance", mean(scored, Extras.IMPORTANCE));
        fig.put("reverse-kl-estimate", scored.stream().mapToDouble(x -> {
            double sum = 0;
            for (int j = 0; j < x.responseLength(); j++) {
                sum += x.value(Extras.OLD_LOGPROBS)[j] - x.value(Extras.TEACHER_LOGPROBS)[j];
            }
            return sum;
        }).average().orElse(0));
        fig.put("seconds", (System.nanoTime() - t0) / 1e9);
        ctx.resources().events().event("minillm-rollout", fig);
        return new RolloutBuffer(r, List.copyOf(scored));
    }

    private static double mean(List<Rollout> rs, String value) {
        double sum = 0;
        long n = 0;
        for (Rollout x : rs) {
            for (float v : x.value(value)) {
                sum += v;
                n++;
            }
        }
        return n == 0 ? 0 : sum / n;
    }

    /** Scores sampled sequences with the student (q_old) and the teacher and derives the per-token values. */
    private List<Rollout> score(List<int[]> sequences, List<Integer> promptLengths, NDManager manager) {
        List<Rollout> out = new ArrayList<>(sequences.size());
        try (NDManager sm = manager.newSubManager()) {
            List<int[]> none = List.of();
            TokenBatch b = assemble(sequences.stream().map(ids -> Rollout.of(ids, 0))
                    .toList(), none, 0, ctx.tokenizer().padId(), sm);
            NDArray studentLogits = ctx.student().forward(b.inputIds(),
                    ForwardOptions.inference().withMask(b.attentionMask())).logits();
            studentLogits.attach(sm);
            long vocab = studentLogits.getShape().get(2);
            NDArray teacherLogits = teacher.score(b, false, sm).logits();
            if (teacherLogits == null) {
                throw new IllegalStateException(KEY + " needs the teacher's full logits");
            }
            if (teacherLogits.getShape().get(2) > vocab) {
                teacherLogits = teacherLogits.get(":, :, :" + vocab);
            }
            float[] logQ = picked(studentLogits, b.targets());
            float[] logP = picked(teacherLogits, b.targets());
            long len = b.targets().getShape().get(1);
            for (int i = 0; i < sequences.size(); i++) {
                int[] ids = sequences.get(i);
                int prompt = promptLengths.get(i);
                int n = ids.length - prompt;
                float[] oldLp = new float[n];
                float[] teacherLp = new float[n];
                for (int j = 0; j < n; j++) {
                    int at = (int) (i * len + prompt + j - 1);
                    oldLp[j] = logQ[at];
                    teacherLp[j] = logP[at];
                }
                float[] rewards = RolloutMath.rewards(teacherLp, oldLp, s.rewardScaling(), s.rewardClip());
                out.add(Rollout.of(ids, prompt).with(Extras.OLD_LOGPROBS, oldLp).with(Extras.TEACHER_LOGPROBS, teacherLp)
                        .with(Extras.IMPORTANCE, RolloutMath.importance(teacherLp, oldLp, s.alpha()))
                        .with(Extras.REWARDS, rewards)
                        .with(Extras.ADVANTAGES, RolloutMath.returns(rewards, s.gamma(), s.includeCurrentReward(),
                                s.lengthNorm())));
            }
        }
        return out;
    }

    /** log-softmax (fp32) of {@code logits} at {@code targets}, flattened [batch * seq]. */
    private static float[] picked(NDArray logits, NDArray targets) {
        NDArray logp = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
        return logp.gather(targets.expandDims(-1), -1).squeeze(-1).toFloatArray();
    }

    /**
     * A right-padded batch of rollouts then corpus rows: position t predicts token t+1; rollout
     * response tokens count in the loss mask and carry their stored values in the extras;
     * corpus tokens after {@code corpusPrompt} count in {@code pt-mask}.
     */
    static TokenBatch assemble(List<Rollout> rollouts, List<int[]> corpusRows, int corpusPrompt, int padId,
                               NDManager manager) {
        int b = rollouts.size() + corpusRows.size();
        int len = 1;
        for (Rollout r : rollouts) {
            len = Math.max(len, r.ids().length - 1);
        }
        for (int[] ids : corpusRows) {
            len = Math.max(len, ids.length - 1);
        }
        long[] input = new long[b * len];
        long[] targets = new long[b * len];
        float[] attention = new float[b * len];
        float[] loss = new float[b * len];
        int[] prompts = new int[b];
        float[][] extras = new float[6][b * len];
        java.util.Arrays.fill(input, padId);
        java.util.Arrays.fill(targets, padId);
        for (int i = 0; i < b; i++) {
            boolean rollout = i < rollouts.size();
            int[] ids = rollout ? rollouts.get(i).ids() : corpusRows.get(i - rollouts.size());
            int prompt = rollout ? rollouts.get(i).promptLength() : corpusPrompt;
            prompts[i] = prompt;
            for (int t = 0; t < ids.length - 1; t++) {
                int k = i * len + t;
                input[k] = ids[t];
                targets[k] = ids[t + 1];
                attention[k] = 1;
                if (t + 1 < Math.max(1, prompt)) {
                    continue;
                }
                if (!rollout) {
                    extras[5][k] = 1;
                    continue;
                }
                Rollout r = rollouts.get(i);
                loss[k] = 1;
                if (!r.values().isEmpty()) {
                    int j = t + 1 - prompt;
                    extras[0][k] = r.value(Extras.OLD_LOGPROBS)[j];
                    extras[1][k] = r.value(Extras.TEACHER_LOGPROBS)[j];
                    extras[2][k] = r.value(Extras.IMPORTANCE)[j];
                    extras[3][k] = r.value(Extras.ADVANTAGES)[j];
                    extras[4][k] = r.value(Extras.REWARDS)[j];
                }
            }
        }
        Shape shape = new Shape(b, len);
        Map<String, NDArray> named = new LinkedHashMap<>();
        String[] names = {Extras.OLD_LOGPROBS, Extras.TEACHER_LOGPROBS, Extras.IMPORTANCE, Extras.ADVANTAGES,
            Extras.REWARDS, Extras.PT_MASK};
        for (int e = 0; e < names.length; e++) {
            named.put(names[e], manager.create(extras[e], shape));
        }
        return new TokenBatch(manager.create(input, shape), manager.create(attention, shape),
                manager.create(targets, shape), manager.create(loss, shape), manager.create(prompts), named);
    }

    private int[] corpusRow(long cursor) {
        long e = cursor / corpus.size();
        List<Integer> order = corpusOrders.computeIfAbsent(e,
                x -> SeededOrder.shuffled(corpus.size(), SeededOrder.mix(seed, 4, x)));
        corpusOrders.keySet().removeIf(x -> x < e - 1);
        return corpus.get(order.get((int) (cursor % corpus.size())));
    }

    /** The factory. */
    static final class Factory implements SamplerFactory {

        @Override
        public String description() {
            return "MiniLLM rollouts: teacher-mixed sampling, rewards, advantages, PPO epochs over a buffer, "
                    + "plus pre-training rows";
        }

        @Override
        public Sampler create(SamplerContext ctx, Config params) {
            Teacher teacher = ctx.teacher();
            if (teacher == null || teacher.model().isEmpty()) {
                throw new InvalidConfigException("teacher.key", KEY + " samples from the teacher-mixed distribution "
                        + "and needs an in-process teacher", teacher == null ? "\"\"" : teacher.identity(),
                        "teacher.local");
            }
            Settings s = Settings.of(params, ctx);
            Tokenizer tok = ctx.tokenizer();
            String file = params.getString("file");
            String filePath = ctx.paramsPath() + ".file";
            List<int[]> prompts = new ArrayList<>();
            for (Example e : ctx.datasets().read(file, Datasets.Split.TRAIN, filePath)) {
                if (Records.hasPrompt(e)) {
                    prompts.add(Records.truncatePrompt(Records.promptIds(e, tok), s.maxPromptLength(), tok));
                }
            }
            if (prompts.isEmpty()) {
                throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : filePath,
                        "has no prompt/response or chat records", file, "a JSONL file of {prompt, response} or "
                        + "{messages} records");
            }
            List<int[]> corpus = new ArrayList<>();
            String ptFile = params.getString("pt-file");
            if (!ptFile.isEmpty()) {
                for (Example e : ctx.datasets().read(ptFile, Datasets.Split.TRAIN, ctx.paramsPath() + ".pt-file")) {
                    if (e.text() != null) {
                        corpus.add(Records.encode(e, tok, ctx.maxLength()).ids());
                    }
                }
                if (corpus.isEmpty()) {
                    throw new InvalidConfigException(ctx.paramsPath() + ".pt-file", "has no {text} records", ptFile,
                            "a JSONL file of {text} records, or \"\" for no pre-training term");
                }
            }
            long seed = ctx.resources().random(KEY).nextLong();
            return new RolloutSampler(ctx, s, ctx.resources().models().generator(), List.copyOf(prompts),
                    List.copyOf(corpus), Records.withBos(new int[0], tok).length, seed);
        }
    }
}
