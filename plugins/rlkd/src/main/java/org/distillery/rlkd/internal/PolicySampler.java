package org.distillery.rlkd.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Datasets;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.reward.Completion;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.data.Records;
import org.distillery.kit.rollout.Rollout;
import org.distillery.kit.rollout.RolloutBatches;
import org.distillery.kit.rollout.RolloutBuffer;
import org.distillery.kit.rollout.RolloutRounds;
import org.distillery.kit.rollout.SeededOrder;

/**
 * What the policy-gradient samplers share ({@code rl.grpo}, {@code rl.llmr}): rounds of on-policy
 * rollouts inside {@code train.kd}.
 *
 * <p>Each round takes {@code prompts-per-round} prompts of its dataset (an endless stream, reshuffled
 * every epoch), samples {@link #groupSize()} responses to each with the {@link #behaviour} model
 * (batched, with a KV cache, seeded by the round), scores every sequence without gradients under the
 * behaviour model ({@code old-logprobs}: log π_old of each sampled token, full softmax at temperature
 * 1) and, when the run has a teacher with full logits, the teacher ({@code teacher-logprobs}), runs
 * the rewards, and lets the subclass turn the scored samples into rollouts with their advantages
 * ({@link #finish}). The round's buffer is served as micro-batches of {@code train.batch-size}
 * rollouts for {@code ppo-epochs} passes, each pass in its own seeded order; then the next round is
 * sampled with the current student. Position {@code round:epoch:index}; the buffer is written into
 * every checkpoint, so a run resumed in the middle of a round trains on exactly the same rollouts.
 *
 * <p>Events: one {@code rl-rollout} per round (mean reward and each reward's mean, accuracy, response
 * length, KL to the teacher, seconds); with every step the trainer logs {@link #figures()}: the mean
 * reward, accuracy, response length and per-token KL to the teacher (log π_old − log π_T on the
 * sampled tokens) of the rollouts the step trained on.
 */
abstract class PolicySampler implements Sampler {

    /** log π_old of each sampled token. */
    static final String OLD_LOGPROBS = "old-logprobs";
    /** The per-token advantage. */
    static final String ADVANTAGES = "advantages";
    /** log π_T of each sampled token. */
    static final String TEACHER_LOGPROBS = "teacher-logprobs";
    /** The summed reward of the rollout, on every token. */
    static final String REWARD = "reward";
    /** 1 correct, 0 wrong, NaN unknown, on every token. */
    static final String CORRECT = "correct";

    /**
     * The settings every policy sampler reads.
     *
     * @param promptsPerRound prompts per round
     * @param generationBatchSize rows decoded and scored together (0: the whole round)
     * @param maxPromptLength prompt tokens at most
     * @param maxNewTokens response tokens at most (0: up to train.max-length)
     * @param temperature sampling temperature
     * @param topK top-k filter (0 off)
     * @param topP nucleus mass (1 off)
     * @param ppoEpochs passes over each round's buffer
     */
    record Common(int promptsPerRound, int generationBatchSize, int maxPromptLength, int maxNewTokens,
                  float temperature, int topK, float topP, int ppoEpochs) {

        static Common of(Params p, SamplerContext ctx) {
            int maxPrompt = p.integer("max-prompt-length", 0);
            if (maxPrompt == 0) {
                maxPrompt = Math.max(1, ctx.maxLength() / 2);
            }
            if (maxPrompt >= ctx.maxLength()) {
                throw new InvalidConfigException(p.at("max-prompt-length"), "leaves no room for a response within "
                        + "train.max-length = " + ctx.maxLength(), String.valueOf(maxPrompt), "< train.max-length");
            }
            double temperature = p.positive("temperature");
            double topP = p.number("top-p");
            if (!(topP > 0 && topP <= 1)) {
                throw new InvalidConfigException(p.at("top-p"), "out of range", String.valueOf(topP), "(0, 1]");
            }
            return new Common(p.integer("prompts-per-round", 1), p.integer("generation-batch-size", 0), maxPrompt,
                    p.integer("max-new-tokens", 0), (float) temperature, p.integer("top-k", 0), (float) topP,
                    p.integer("ppo-epochs", 1));
        }
    }

    /**
     * One sampled, scored response before the subclass makes it a rollout.
     *
     * @param example the prompt's record
     * @param ids prompt then response tokens (cut to train.max-length)
     * @param promptLength prompt tokens
     * @param oldLogProbs log π_old of each response token
     * @param teacherLogProbs log π_T of each response token, or {@code null} without a teacher
     * @param scoredBy log-probabilities of each response token under the {@link #extraScorers()}, by name
     * @param scored the rewards' judgement
     */
    record Sample(Example example, int[] ids, int promptLength, float[] oldLogProbs, float[] teacherLogProbs,
                  Map<String, float[]> scoredBy, RewardSet.Scored scored) {

        int responseLength() {
            return ids.length - promptLength;
        }

        /** Σ_t (log π_old − log π_T) over the response, 0 without a teacher. */
        double teacherKl() {
            double sum = 0;
            if (teacherLogProbs != null) {
                for (int t = 0; t < oldLogProbs.length; t++) {
                    sum += oldLogProbs[t] - teacherLogProbs[t];
                }
            }
            return sum;
        }
    }

    protected final SamplerContext ctx;
    protected final Common common;
    protected final RewardSet rewards;
    protected final long seed;
    private final List<Example> examples;
    private final List<int[]> prompts;
    private final Teacher teacher;

    private final RolloutRounds rounds;
    private final Figures served = new Figures();

    PolicySampler(String key, SamplerContext ctx, Common common, RewardSet rewards, List<Example> examples,
                  List<int[]> prompts, long seed) {
        this.ctx = ctx;
        this.common = common;
        this.rewards = rewards;
        this.examples = examples;
        this.prompts = prompts;
        this.seed = seed;
        this.teacher = ctx.teacher();
        this.rounds = new RolloutRounds(key, seed, common.ppoEpochs());
    }

    /** The prompts of a sampler's {@code file} parameter: every record with a prompt, cut to the maximum length. */
    static List<Example> promptRecords(SamplerContext ctx, Params p) {
        String file = p.string("file");
        List<Example> out = new ArrayList<>();
        for (Example e : ctx.datasets().read(file, Datasets.Split.TRAIN, p.at("file"))) {
            if (Records.hasPrompt(e)) {
                out.add(e);
            }
        }
        if (out.isEmpty()) {
            throw new InvalidConfigException(file.isEmpty() ? "data.train-file" : p.at("file"),
                    "has no prompt/response or chat records", file,
                    "a JSONL file of {prompt, response} or {messages} records");
        }
        return List.copyOf(out);
    }

    /** Prompt ids of every record, cut to {@code maxPromptLength} (bos and the prompt's end kept). */
    static List<int[]> promptIds(List<Example> examples, Tokenizer tok, int maxPromptLength) {
        List<int[]> out = new ArrayList<>(examples.size());
        for (Example e : examples) {
            out.add(Records.truncatePrompt(Records.promptIds(e, tok), maxPromptLength, tok));
        }
        return List.copyOf(out);
    }

    /** Responses sampled per prompt. */
    abstract int groupSize();

    /** The model that samples round {@code round} (the student, or a lagged copy of it). */
    abstract LanguageModel behaviour(long round);

    /** The round's rollouts, with {@link #OLD_LOGPROBS}, {@link #ADVANTAGES} and what the subclass's losses read. */
    abstract List<Rollout> finish(long round, List<Sample> samples, Map<String, Object> event);

    /** The per-token values attached to every batch as extras. */
    abstract List<String> batchValues();

    /** Further models every sampled sequence is scored under (no gradients), by value name (e.g. a reference policy). */
    Map<String, LanguageModel> extraScorers() {
        return Map.of();
    }

    @Override
    public TokenBatch next(NDManager manager) {
        List<Rollout> rows = rounds.next(ctx.batchSize(), r -> sampleRound(r, manager));
        rows.forEach(served::add);
        return RolloutBatches.assemble(rows, batchValues(), Map.of(), ctx.tokenizer().padId(), manager);
    }

    @Override
    public Map<String, Double> figures() {
        return served.drain();
    }

    @Override
    public String position() {
        return rounds.position();
    }

    @Override
    public void seek(String position) {
        rounds.seek(position);
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

    /** Samples, scores and rewards one round. */
    private RolloutBuffer sampleRound(long r, NDManager manager) {
        long t0 = System.nanoTime();
        Tokenizer tok = ctx.tokenizer();
        int g = groupSize();
        List<Integer> rowPrompts = new ArrayList<>();
        for (int i = 0; i < common.promptsPerRound(); i++) {
            int k = SeededOrder.at(prompts.size(), SeededOrder.mix(seed, 2), r * common.promptsPerRound() + i);
            for (int j = 0; j < g; j++) {
                rowPrompts.add(k);
            }
        }
        LanguageModel model = behaviour(r);
        int chunkSize = common.generationBatchSize() == 0 ? rowPrompts.size() : common.generationBatchSize();
        List<Sample> samples = new ArrayList<>(rowPrompts.size());
        for (int from = 0, chunk = 0; from < rowPrompts.size(); from += chunkSize, chunk++) {
            List<Integer> rows = rowPrompts.subList(from, Math.min(rowPrompts.size(), from + chunkSize));
            List<int[]> batch = rows.stream().map(prompts::get).toList();
            int shortest = batch.stream().mapToInt(p -> p.length).min().orElse(0);
            int maxNew = ctx.maxLength() - shortest;
            if (common.maxNewTokens() > 0) {
                maxNew = Math.min(maxNew, common.maxNewTokens());
            }
            GenerationOptions options = new GenerationOptions(maxNew, common.temperature(), common.topK(),
                    common.topP(), Set.of(tok.eosId()), SeededOrder.mix(seed, 3, r, chunk), true);
            List<int[]> sequences = new ArrayList<>(rows.size());
            try (NDManager gm = manager.newSubManager()) {
                GenerationResult out = ctx.resources().models().generator().generate(model, batch, options, gm);
                for (int i = 0; i < batch.size(); i++) {
                    int[] p = batch.get(i);
                    int[] resp = out.tokens().get(i);
                    int keep = Math.min(resp.length, ctx.maxLength() - p.length);
                    sequences.add(Records.concat(p, java.util.Arrays.copyOf(resp, keep)));
                }
            }
            samples.addAll(score(rows, sequences, model, manager));
        }
        Map<String, Object> event = new LinkedHashMap<>();
        event.put("round", r);
        List<Rollout> rollouts = finish(r, samples, event);
        event.putAll(roundFigures(samples));
        event.put("seconds", (System.nanoTime() - t0) / 1e9);
        ctx.resources().events().event("rl-rollout", event);
        return new RolloutBuffer(r, rollouts);
    }

    /** Scores sampled sequences (no gradients) and runs the rewards. */
    private List<Sample> score(List<Integer> rows, List<int[]> sequences, LanguageModel behaviour, NDManager manager) {
        Tokenizer tok = ctx.tokenizer();
        List<Rollout> bare = new ArrayList<>(sequences.size());
        for (int i = 0; i < sequences.size(); i++) {
            bare.add(Rollout.of(sequences.get(i), prompts.get(rows.get(i)).length));
        }
        List<float[]> old;
        List<float[]> teacherLp = null;
        Map<String, List<float[]>> extra = new LinkedHashMap<>();
        try (NDManager sm = manager.newSubManager()) {
            TokenBatch b = RolloutBatches.assemble(bare, List.of(), Map.of(), tok.padId(), sm);
            long vocab = ctx.student().config().vocabSize();
            old = responseLogProbs(forward(behaviour, b, sm), b, bare);
            for (Map.Entry<String, LanguageModel> e : extraScorers().entrySet()) {
                extra.put(e.getKey(), responseLogProbs(forward(e.getValue(), b, sm), b, bare));
            }
            if (teacher != null) {
                TeacherOutput t = teacher.score(b, false, sm);
                if (t.hasLogits()) {
                    NDArray logits = t.logits();
                    if (logits.getShape().get(2) > vocab) {
                        logits = logits.get(":, :, :" + vocab);
                    }
                    teacherLp = responseLogProbs(logits, b, bare);
                } else {
                    requireTeacherLogits();
                }
            }
        }
        List<Completion> completions = new ArrayList<>(sequences.size());
        for (Rollout x : bare) {
            int[] response = x.response();
            int n = response.length > 0 && response[response.length - 1] == tok.eosId() ? response.length - 1
                    : response.length;
            completions.add(new Completion(examples.get(rows.get(completions.size())),
                    java.util.Arrays.copyOf(x.ids(), x.promptLength()), response,
                    tok.decode(java.util.Arrays.copyOf(response, n))));
        }
        List<RewardSet.Scored> scored;
        try (NDManager rm = manager.newSubManager()) {
            scored = rewards.score(completions, rm);
        }
        List<Sample> out = new ArrayList<>(sequences.size());
        for (int i = 0; i < sequences.size(); i++) {
            Rollout x = bare.get(i);
            Map<String, float[]> by = new LinkedHashMap<>();
            for (Map.Entry<String, List<float[]>> e : extra.entrySet()) {
                by.put(e.getKey(), e.getValue().get(i));
            }
            out.add(new Sample(completions.get(i).example(), x.ids(), x.promptLength(), old.get(i),
                    teacherLp == null ? null : teacherLp.get(i), by, scored.get(i)));
        }
        return out;
    }

    /** Called when the sampler needs the teacher's logits and the teacher gives top-k only; the default tolerates it. */
    void requireTeacherLogits() {
    }

    private static NDArray forward(LanguageModel model, TokenBatch b, NDManager m) {
        NDArray logits = model.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())).logits();
        logits.attach(m);
        return logits;
    }

    /** log-softmax (fp32) of {@code logits} at the targets, per rollout's response tokens. */
    static List<float[]> responseLogProbs(NDArray logits, TokenBatch b, List<Rollout> rows) {
        NDArray logp = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
        float[] picked = logp.gather(b.targets().expandDims(-1), -1).squeeze(-1).toFloatArray();
        long len = b.targets().getShape().get(1);
        List<float[]> out = new ArrayList<>(rows.size());
        for (int i = 0; i < rows.size(); i++) {
            Rollout x = rows.get(i);
            float[] lp = new float[x.responseLength()];
            for (int j = 0; j < lp.length; j++) {
                lp[j] = picked[(int) (i * len + x.promptLength() + j - 1)];
            }
            out.add(lp);
        }
        return out;
    }

    /** A rollout of {@code s} with its old log-probabilities, reward and verdict (and teacher log-probs). */
    static Rollout base(Sample s) {
        Rollout r = Rollout.of(s.ids(), s.promptLength()).with(OLD_LOGPROBS, s.oldLogProbs());
        if (s.teacherLogProbs() != null) {
            r = r.with(TEACHER_LOGPROBS, s.teacherLogProbs());
        }
        return r.withConstant(REWARD, (float) s.scored().total()).withConstant(CORRECT, (float) s.scored().correct());
    }

    /** The round's mean reward, each reward's mean, accuracy, response length and KL to the teacher. */
    private Map<String, Object> roundFigures(List<Sample> samples) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("rollouts", samples.size());
        m.put("reward", samples.stream().mapToDouble(s -> s.scored().total()).average().orElse(Double.NaN));
        List<String> keys = rewards.keys();
        for (int k = 0; k < keys.size(); k++) {
            int at = k;
            m.put(k + ":" + keys.get(k), samples.stream().mapToDouble(s -> s.scored().values()[at]).average()
                    .orElse(Double.NaN));
        }
        m.put("accuracy", samples.stream().mapToDouble(s -> s.scored().correct()).filter(x -> !Double.isNaN(x))
                .average().orElse(Double.NaN));
        m.put("response-length", samples.stream().mapToInt(Sample::responseLength).average().orElse(0));
        long tokens = samples.stream().mapToLong(Sample::responseLength).sum();
        if (samples.stream().allMatch(s -> s.teacherLogProbs() != null) && tokens > 0) {
            m.put("teacher-kl", samples.stream().mapToDouble(Sample::teacherKl).sum() / tokens);
        }
        return m;
    }

    /** Running sums of the figures of the rollouts served since the last {@link #drain()}. */
    private static final class Figures {
        private int rows;
        private double reward;
        private double correct;
        private int checked;
        private long tokens;
        private double teacherKl;
        private boolean teacherKlKnown = true;

        void add(Rollout r) {
            rows++;
            int n = r.responseLength();
            if (n > 0) {
                reward += r.value(REWARD)[0];
                float c = r.value(CORRECT)[0];
                if (!Float.isNaN(c)) {
                    correct += c;
                    checked++;
                }
            }
            tokens += n;
            float[] t = r.values().get(TEACHER_LOGPROBS);
            if (t == null) {
                teacherKlKnown = false;
            } else {
                float[] old = r.value(OLD_LOGPROBS);
                for (int j = 0; j < n; j++) {
                    teacherKl += old[j] - t[j];
                }
            }
        }

        Map<String, Double> drain() {
            if (rows == 0) {
                return Map.of();
            }
            Map<String, Double> m = new LinkedHashMap<>();
            m.put("reward", reward / rows);
            m.put("accuracy", checked == 0 ? Double.NaN : correct / checked);
            m.put("response-length", (double) tokens / rows);
            if (teacherKlKnown && tokens > 0) {
                m.put("teacher-kl", teacherKl / tokens);
            }
            rows = 0;
            reward = 0;
            correct = 0;
            checked = 0;
            tokens = 0;
            teacherKl = 0;
            teacherKlKnown = true;
            return m;
        }
    }
}
