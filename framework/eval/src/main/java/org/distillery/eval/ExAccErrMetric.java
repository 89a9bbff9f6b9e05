package org.distillery.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.run.RunResources;

/**
 * Excess accumulated error (exposure bias) of the student q against the teacher p, as MiniLLM
 * defines it (Gu et al., arXiv 2306.08543; METHODS.md §1). Continuations of the prompts are sampled
 * once from the student and once from the teacher ({@code samples} times each); at each generated
 * position the error is {@code KL(p(·|y≤t) ‖ q(·|y≤t))} over the vocabulary; {@code R(l)} sums the
 * errors over the first l positions of student prefixes, {@code l·ε(l)} over teacher prefixes, and
 * {@code ExAccErr(l) = (R(l) − l·ε(l)) / (l·ε(l)) × 100} (a percentage).
 *
 * <p>Two ways to average, two keys:
 * <ul>
 *   <li>{@code eval.exaccerr}, as the reference code computes it (LMOps
 *       {@code minillm/evaluate_exposure_bias.py}, also in gmkim-ai/MoEKD): position j (from 0) is
 *       the one whose input is the (j+1)-th generated token, so the first term is the error of the
 *       distribution after one generated token (the code slices the logits from the prompt's
 *       length); a position counts while its input token is not eos (eos is the padding id there);
 *       per prompt, {@code e(j) = Σ_s err_s(j) / (Σ_s counted_s(j) + 0.001)} over its samples, so a
 *       finished sequence adds 0; {@code R} is the cumulative sum of e per prompt, averaged over all
 *       prompts. Figures {@code exaccerr@l}.</li>
 *   <li>{@code eval.exaccerr-alive}, Distillery's earlier variant: position j is the one that
 *       predicts the (j+1)-th generated token (the first term is the first token's distribution)
 *       and e(j) is the mean error over the sequences still generating at j (eos included), so R(l)
 *       accumulates the error of sequences that reach length l only. It separates how the error
 *       grows from when sequences stop: with the reference's average, R(l) stops growing once the
 *       sequences have ended, whatever their errors, so ExAccErr at lengths past the typical
 *       response mostly compares how long the student's and the teacher's responses are. Figures
 *       {@code exaccerr-alive@l}.</li>
 * </ul>
 * Also {@code <name>-r@l} (R(l)) and {@code <name>-eps@l} (ε(l), the mean per-step error on teacher
 * prefixes) for each configured length l. Needs a teacher in the context; the KL is over the
 * vocabulary the two models share (the smaller one).
 */
public final class ExAccErrMetric implements Metric {

    /** Registry key of the reference computation. */
    public static final String KEY = "eval.exaccerr";
    /** Registry key of the variant averaged over the sequences still generating. */
    public static final String KEY_ALIVE = "eval.exaccerr-alive";

    /** Added to a prompt's count of live samples at a position, as the reference code does. */
    static final double COUNT_EPS = 1e-3;

    private final boolean alive;
    private final String key;
    private final String name;
    private final List<Integer> lengths;
    private final float temperature;
    private final int topK;
    private final float topP;
    private final long seed;
    private final int samples;
    private final int batchSize;
    private final int limit;
    private final List<String> tasks;

    /** From validated parameters; {@code alive} selects {@link #KEY_ALIVE}. */
    public ExAccErrMetric(Config params, boolean alive) {
        this.alive = alive;
        this.key = alive ? KEY_ALIVE : KEY;
        this.name = alive ? "exaccerr-alive" : "exaccerr";
        TreeSet<Integer> ls = new TreeSet<>(params.getIntList("lengths"));
        if (ls.isEmpty() || ls.first() < 1) {
            throw new InvalidConfigException(key + ".lengths", "needs positive generation lengths",
                    params.getIntList("lengths").toString(), "e.g. [8, 16, 32, 64]");
        }
        this.lengths = List.copyOf(ls);
        this.temperature = (float) params.getDouble("temperature");
        if (!(temperature >= 0)) {
            throw new InvalidConfigException(key + ".temperature", "must be >= 0", Float.toString(temperature), ">= 0");
        }
        this.topK = params.getInt("top-k");
        this.topP = (float) params.getDouble("top-p");
        this.seed = params.getLong("seed");
        this.samples = EvalSupport.positiveInt(params, key, "samples");
        this.batchSize = EvalSupport.positiveInt(params, key, "batch-size");
        this.limit = params.getInt("limit");
        this.tasks = params.getStringList("tasks");
    }

    @Override
    public boolean needsPredictions() {
        return false;
    }

    /**
     * The errors of one prefix source, per prompt, sample and position (index j is position j as the
     * variant numbers them).
     *
     * @param err KL(p‖q) where counted, 0 elsewhere: [prompt][sample][position]
     * @param counted 1 where the position counts, else 0: same shape
     */
    record Errors(double[][][] err, double[][][] counted) {
    }

    /**
     * The reference's accumulated error: {@code mean over prompts of Σ_{j<l} e(j)}, with
     * {@code e(j) = Σ_s err_s(j) / (Σ_s counted_s(j) + 0.001)} (index l−1 of the result is R(l)).
     */
    static double[] accumulatedPerPrompt(Errors e, int maxLen) {
        int prompts = e.err().length;
        double[] total = new double[maxLen];
        for (int p = 0; p < prompts; p++) {
            double running = 0;
            for (int j = 0; j < maxLen; j++) {
                double sum = 0;
                double count = 0;
                for (int s = 0; s < e.err()[p].length; s++) {
                    sum += e.err()[p][s][j];
                    count += e.counted()[p][s][j];
                }
                running += sum / (count + COUNT_EPS);
                total[j] += running;
            }
        }
        for (int j = 0; j < maxLen; j++) {
            total[j] = prompts == 0 ? 0 : total[j] / prompts;
        }
        return total;
    }

    /**
     * The earlier variant's accumulated error: {@code Σ_{j<l}} of the mean error over every counted
     * (prompt, sample) at j; a position nobody reaches adds 0.
     */
    static double[] accumulatedOverLive(Errors e, int maxLen) {
        double[] total = new double[maxLen];
        double running = 0;
        for (int j = 0; j < maxLen; j++) {
            double sum = 0;
            double count = 0;
            for (int p = 0; p < e.err().length; p++) {
                for (int s = 0; s < e.err()[p].length; s++) {
                    sum += e.err()[p][s][j];
                    count += e.counted()[p][s][j];
                }
            }
            running += count == 0 ? 0 : sum / count;
            total[j] = running;
        }
        return total;
    }

    /**
     * ExAccErr(l) from accumulated errors (index l−1 holds the sum over the first l positions).
     *
     * @return {ExAccErr(l) in percent, R(l), ε(l)}
     */
    public static double[] formula(double[] studentAccumulated, double[] teacherAccumulated, int l) {
        double r = studentAccumulated[l - 1];
        double le = teacherAccumulated[l - 1];
        return new double[] {(r - le) / le * 100.0, r, le / l};
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        if (ctx.teacher() == null) {
            throw new IllegalStateException(key + " needs a teacher model (distill eval --teacher <dir>, or a run "
                    + "with a teacher)");
        }
        int maxLen = lengths.get(lengths.size() - 1);
        List<int[]> prompts = new ArrayList<>();
        for (Example e : ctx.examples()) {
            // records with images are left out: the teacher-mixed sampling here runs on text prompts
            if ((e.prompt() != null || !e.messages().isEmpty()) && !e.hasImage() && EvalSupport.inTasks(e, tasks)) {
                prompts.add(EvalSupport.promptIds(e, ctx.tokenizer(), smaller(ctx.model(), ctx.teacher()), maxLen + 1));
                if (limit > 0 && prompts.size() >= limit) {
                    break;
                }
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        if (prompts.isEmpty()) {
            for (int l : lengths) {
                out.put(name + "@" + l, Double.NaN);
            }
            return out;
        }
        Errors fromStudent = errors(ctx, ctx.model(), prompts, maxLen);
        Errors fromTeacher = errors(ctx, ctx.teacher(), prompts, maxLen);
        double[] student = alive ? accumulatedOverLive(fromStudent, maxLen) : accumulatedPerPrompt(fromStudent, maxLen);
        double[] teacher = alive ? accumulatedOverLive(fromTeacher, maxLen) : accumulatedPerPrompt(fromTeacher, maxLen);
        for (int l : lengths) {
            double[] f = formula(student, teacher, l);
            out.put(name + "@" + l, f[0]);
            out.put(name + "-r@" + l, f[1]);
            out.put(name + "-eps@" + l, f[2]);
        }
        return out;
    }

    private static LanguageModel smaller(LanguageModel a, LanguageModel b) {
        return a.config().maxPositions() <= b.config().maxPositions() ? a : b;
    }

    /** The errors on continuations sampled from {@code sampler}, numbered as this variant numbers positions. */
    private Errors errors(EvalContext ctx, LanguageModel sampler, List<int[]> prompts, int maxLen) {
        RunResources run = ctx.resources();
        double[][][] err = new double[prompts.size()][samples][maxLen];
        double[][][] counted = new double[prompts.size()][samples][maxLen];
        int eos = ctx.tokenizer().eosId();
        for (int s = 0; s < samples; s++) {
            GenerationOptions o = new GenerationOptions(maxLen, temperature, topK, topP, Set.of(eos),
                    seed + 1_000_003L * s, true);
            List<int[]> gen = EvalSupport.generate(run, run.models().generator(), sampler, prompts, o, batchSize);
            for (int i = 0; i < prompts.size(); i += batchSize) {
                int end = Math.min(prompts.size(), i + batchSize);
                List<float[]> kls = generatedKl(run, ctx.model(), ctx.teacher(), prompts.subList(i, end),
                        gen.subList(i, end), ctx.tokenizer().padId());
                for (int r = i; r < end; r++) {
                    int[] g = gen.get(r);
                    float[] kl = kls.get(r - i);
                    for (int j = 0; j < Math.min(maxLen, g.length); j++) {
                        if (alive) {
                            err[r][s][j] = Math.max(0, kl[j]);
                            counted[r][s][j] = 1;
                        } else if (g[j] != eos) {
                            err[r][s][j] = kl[j + 1];
                            counted[r][s][j] = 1;
                        }
                    }
                }
            }
        }
        return new Errors(err, counted);
    }

    /**
     * KL(p‖q) at the positions of each prompt + continuation from the last prompt token on: index
     * k is the position whose input is token {@code prompt.length − 1 + k}, so index 0 predicts the
     * first generated token and index k ≥ 1 follows the k-th generated token.
     */
    private static List<float[]> generatedKl(RunResources run, LanguageModel student, LanguageModel teacher,
                                             List<int[]> prompts, List<int[]> generated, int padId) {
        int rows = prompts.size();
        int len = 1;
        for (int r = 0; r < rows; r++) {
            len = Math.max(len, prompts.get(r).length + generated.get(r).length);
        }
        long[] ids = new long[rows * len];
        float[] attention = new float[rows * len];
        java.util.Arrays.fill(ids, padId);
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            int[] g = generated.get(r);
            for (int t = 0; t < p.length + g.length; t++) {
                ids[r * len + t] = t < p.length ? p[t] : g[t - p.length];
                attention[r * len + t] = 1;
            }
        }
        try (NDManager step = run.tensors().newStepScope(run.manager())) {
            NDArray input = step.create(ids, new Shape(rows, len));
            ForwardOptions fo = ForwardOptions.inference().withMask(step.create(attention, new Shape(rows, len)));
            NDArray qLogits = student.forward(input, fo).logits();
            qLogits.attach(step);
            NDArray pLogits = teacher.forward(input, fo).logits();
            pLogits.attach(step);
            long v = Math.min(qLogits.getShape().get(2), pLogits.getShape().get(2));
            NDArray logq = qLogits.get(":, :, :" + v).toType(DataType.FLOAT32, false).logSoftmax(-1);
            NDArray logp = pLogits.get(":, :, :" + v).toType(DataType.FLOAT32, false).logSoftmax(-1);
            float[] kl = logp.exp().mul(logp.sub(logq)).sum(new int[] {-1}).toFloatArray();
            List<float[]> out = new ArrayList<>(rows);
            for (int r = 0; r < rows; r++) {
                int from = prompts.get(r).length - 1;
                int n = generated.get(r).length + 1;
                float[] row = new float[n];
                System.arraycopy(kl, r * len + from, row, 0, n);
                out.add(row);
            }
            return out;
        }
    }

    /** The factory of one of the two keys. */
    public static final class Factory implements MetricFactory {

        private final boolean alive;

        /** The factory of {@link #KEY} ({@code alive = false}) or {@link #KEY_ALIVE}. */
        public Factory(boolean alive) {
            this.alive = alive;
        }

        @Override
        public String description() {
            return alive ? "ExAccErr(l) averaged over the sequences still generating (Distillery's earlier variant)"
                    : "ExAccErr(l): excess accumulated KL(teacher||student) on student vs teacher prefixes, as "
                        + "MiniLLM's code computes it (needs a teacher)";
        }

        @Override
        public Metric create(Config params) {
            return new ExAccErrMetric(params, alive);
        }
    }
}
