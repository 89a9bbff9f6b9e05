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

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.metric.EvalContext;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.run.RunResources;
import org.distillery.kit.data.Records;

/**
 * {@code eval.exaccerr}: excess accumulated error (exposure bias) of the student q against the
 * teacher p, as MiniLLM defines it (see {@code METHODS.md}):
 *
 * <ol>
 * <li>sample continuations of the prompts from the student; at every generated position t
 * compute {@code KL(p(·|y<t) ‖ q(·|y<t))} over the vocabulary;</li>
 * <li>do the same with continuations sampled from the teacher;</li>
 * <li>average each over the sequences that reach position t (masked mean), take the cumulative
 * sum over positions: {@code R(l) = Σ_{t≤l} KL_student-prefix(t)} and
 * {@code l·ε(l) = Σ_{t≤l} KL_teacher-prefix(t)};</li>
 * <li>{@code ExAccErr(l) = (R(l) − l·ε(l)) / (l·ε(l)) × 100} (a percentage).</li>
 * </ol>
 *
 * <p>A position no sequence reaches (all ended with eos earlier) adds 0 to both sums. Figures:
 * {@code exaccerr@l}, {@code exaccerr-r@l} (R(l)) and {@code exaccerr-eps@l} (ε(l)) for each
 * configured length l. Needs a teacher in the context; the KL is over the vocabulary the two
 * models share (the smaller one).
 */
public final class ExAccErrMetric implements Metric {

    /** Registry key. */
    public static final String KEY = "eval.exaccerr";

    private final List<Integer> lengths;
    private final float temperature;
    private final int topK;
    private final float topP;
    private final long seed;
    private final int samples;
    private final int batchSize;
    private final int limit;
    private final List<String> tasks;

    /** From validated parameters. */
    public ExAccErrMetric(Config params) {
        TreeSet<Integer> ls = new TreeSet<>(params.getIntList("lengths"));
        if (ls.isEmpty() || ls.first() < 1) {
            throw new InvalidConfigException(KEY + ".lengths", "needs positive generation lengths",
                    params.getIntList("lengths").toString(), "e.g. [8, 16, 32, 64]");
        }
        this.lengths = List.copyOf(ls);
        this.temperature = (float) params.getDouble("temperature");
        if (!(temperature >= 0)) {
            throw new InvalidConfigException(KEY + ".temperature", "must be >= 0", Float.toString(temperature), ">= 0");
        }
        this.topK = params.getInt("top-k");
        this.topP = (float) params.getDouble("top-p");
        this.seed = params.getLong("seed");
        this.samples = EvalSupport.positiveInt(params, KEY, "samples");
        this.batchSize = EvalSupport.positiveInt(params, KEY, "batch-size");
        this.limit = params.getInt("limit");
        this.tasks = params.getStringList("tasks");
    }

    @Override
    public boolean needsPredictions() {
        return false;
    }

    /**
     * The formula on per-position mean KLs (index 0 is position 1).
     *
     * @param klStudentPrefix mean KL(p‖q) at each position of student-generated sequences
     * @param klTeacherPrefix mean KL(p‖q) at each position of teacher-generated sequences
     * @param l the generation length; positions past an array's end count 0
     * @return {ExAccErr(l) in percent, R(l), ε(l)}
     */
    public static double[] formula(double[] klStudentPrefix, double[] klTeacherPrefix, int l) {
        double r = 0;
        double le = 0;
        for (int t = 0; t < l; t++) {
            r += t < klStudentPrefix.length ? klStudentPrefix[t] : 0;
            le += t < klTeacherPrefix.length ? klTeacherPrefix[t] : 0;
        }
        return new double[] {(r - le) / le * 100.0, r, le / l};
    }

    @Override
    public Map<String, Double> evaluate(EvalContext ctx) {
        if (ctx.teacher() == null) {
            throw new IllegalStateException(KEY + " needs a teacher model (distill eval --teacher <dir>, or a run "
                    + "with a teacher)");
        }
        int maxLen = lengths.get(lengths.size() - 1);
        List<int[]> prompts = new ArrayList<>();
        for (Example e : ctx.examples()) {
            // records with images are left out: the teacher-mixed sampling here runs on text prompts
            if ((e.prompt() != null || !e.messages().isEmpty()) && !e.hasImage() && EvalSupport.inTasks(e, tasks)) {
                prompts.add(EvalSupport.promptIds(e, ctx.tokenizer(), smaller(ctx.model(), ctx.teacher()), maxLen));
                if (limit > 0 && prompts.size() >= limit) {
                    break;
                }
            }
        }
        Map<String, Double> out = new LinkedHashMap<>();
        if (prompts.isEmpty()) {
            for (int l : lengths) {
                out.put("exaccerr@" + l, Double.NaN);
            }
            return out;
        }
        double[] student = meanKl(ctx, ctx.model(), prompts, maxLen);
        double[] teacher = meanKl(ctx, ctx.teacher(), prompts, maxLen);
        for (int l : lengths) {
            double[] f = formula(student, teacher, l);
            out.put("exaccerr@" + l, f[0]);
            out.put("exaccerr-r@" + l, f[1]);
            out.put("exaccerr-eps@" + l, f[2]);
        }
        return out;
    }

    private static LanguageModel smaller(LanguageModel a, LanguageModel b) {
        return a.config().maxPositions() <= b.config().maxPositions() ? a : b;
    }

    /** Per-position mean KL(p‖q) over sequences sampled from {@code sampler}. */
    private double[] meanKl(EvalContext ctx, LanguageModel sampler, List<int[]> prompts, int maxLen) {
        RunResources run = ctx.resources();
        double[] sum = new double[maxLen];
        long[] count = new long[maxLen];
        int eos = ctx.tokenizer().eosId();
        for (int s = 0; s < samples; s++) {
            GenerationOptions o = new GenerationOptions(maxLen, temperature, topK, topP, Set.of(eos),
                    seed + 1_000_003L * s, true);
            List<int[]> gen = EvalSupport.generate(run, run.models().generator(), sampler, prompts, o, batchSize);
            for (int i = 0; i < prompts.size(); i += batchSize) {
                List<Records.Encoded> seqs = new ArrayList<>();
                for (int j = i; j < Math.min(prompts.size(), i + batchSize); j++) {
                    int[] p = prompts.get(j);
                    int[] g = gen.get(j);
                    int[] ids = new int[p.length + g.length];
                    System.arraycopy(p, 0, ids, 0, p.length);
                    System.arraycopy(g, 0, ids, p.length, g.length);
                    seqs.add(new Records.Encoded(ids, p.length));
                }
                accumulate(run, ctx.model(), ctx.teacher(), seqs, ctx.tokenizer().padId(), sum, count);
            }
        }
        double[] mean = new double[maxLen];
        for (int t = 0; t < maxLen; t++) {
            mean[t] = count[t] == 0 ? 0 : sum[t] / count[t];
        }
        return mean;
    }

    /** Adds KL(p‖q) at each generated position of the sequences to {@code sum} and {@code count}. */
    private static void accumulate(RunResources run, LanguageModel student, LanguageModel teacher,
                                   List<Records.Encoded> seqs, int padId, double[] sum, long[] count) {
        try (NDManager step = run.tensors().newStepScope(run.manager())) {
            TokenBatch b = Records.batch(seqs, padId, step);
            ForwardOptions fo = ForwardOptions.inference().withMask(b.attentionMask());
            NDArray qLogits = student.forward(b.inputIds(), fo).logits();
            qLogits.attach(step);
            NDArray pLogits = teacher.forward(b.inputIds(), fo).logits();
            pLogits.attach(step);
            long v = Math.min(qLogits.getShape().get(2), pLogits.getShape().get(2));
            NDArray logq = qLogits.get(":, :, :" + v).toType(DataType.FLOAT32, false).logSoftmax(-1);
            NDArray logp = pLogits.get(":, :, :" + v).toType(DataType.FLOAT32, false).logSoftmax(-1);
            float[] kl = logp.exp().mul(logp.sub(logq)).sum(new int[] {-1}).toFloatArray();
            float[] mask = b.lossMask().toFloatArray();
            int len = (int) b.inputIds().getShape().get(1);
            for (int r = 0; r < seqs.size(); r++) {
                int prompt = seqs.get(r).promptLength();
                for (int t = 0; t < len; t++) {
                    if (mask[r * len + t] > 0) {
                        int pos = t + 1 - prompt;
                        if (pos >= 0 && pos < sum.length) {
                            sum[pos] += Math.max(0, kl[r * len + t]);
                            count[pos]++;
                        }
                    }
                }
            }
        }
    }

    /** The factory. */
    public static final class Factory implements MetricFactory {
        @Override
        public String description() {
            return "ExAccErr(l): excess accumulated KL(teacher||student) on student vs teacher prefixes (needs a teacher)";
        }

        @Override
        public Metric create(Config params) {
            return new ExAccErrMetric(params);
        }
    }
}
