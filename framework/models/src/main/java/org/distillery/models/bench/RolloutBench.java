package org.distillery.models.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.NextTokenHook;
import org.distillery.api.tensor.TensorService;
import org.distillery.models.HfModelService;

/**
 * {@code distill bench rollout}: sampling throughput of on-policy rollouts with MiniLLM's
 * teacher-mixed hook ({@link Generator#generateMixed}: student and teacher step together, both
 * with KV caches, and each token is drawn from {@code alpha * p + (1 - alpha) * q}) against plain
 * student sampling ({@link Generator#generate}), in the same call.
 *
 * <p>Method: student and teacher are randomly initialised Llama-style models of the
 * {@link GenerateBench} shape (by default the same size, so the mixed rollout does one extra
 * model step of equal cost per token and the goal is at most 2x); prompts are fixed random ids;
 * sampling at temperature 1 with no top-k / top-p and no stop token, so every row produces exactly
 * the requested tokens. After one short warm-up per mode, the student-only, teacher-only and mixed
 * runs are interleaved per repeat (a change of machine load hits all three) and the best time of
 * each is kept. tokens/s = batch * new tokens / wall time (prompt forwards included). The cost
 * is student-only tokens/s over mixed tokens/s; the teacher-only run gives what one student plus
 * one teacher step per token should cost, (student time + teacher time) / student time, so the
 * overhead of the hook itself is the gap between the two.
 *
 * <p>The GRPO case ({@code group} &gt; 0): G samples of each of {@code batch} prompts, as the
 * {@code rl.grpo} sampler draws them: one batched call over batch × G rows (each prompt repeated, KV
 * cache), and the same followed by the scoring pass the sampler makes (one forward over the whole
 * sequences for the old log-probabilities), against plain sampling of the same tokens: G calls of one
 * sample per prompt. tokens/s = batch × G × new tokens / wall time.
 */
public final class RolloutBench {

    private RolloutBench() {
    }

    /**
     * What to measure.
     *
     * @param student student model shape (its lengths, batches, prompt, repeats and seed are used)
     * @param teacherHidden teacher width (0 = the student's)
     * @param teacherLayers teacher depth (0 = the student's)
     * @param alpha teacher weight of the mixture
     * @param group samples per prompt of the GRPO case (0: no GRPO case)
     */
    public record Options(GenerateBench.Options student, int teacherHidden, int teacherLayers, float alpha, int group) {

        /** Student and teacher of the {@link GenerateBench} default size, batch 4, 128 new tokens, alpha 0.2, G = 4. */
        public static Options defaults() {
            return new Options(GenerateBench.Options.defaults().withLengths(128).withBatches(4), 0, 0, 0.2f, 4);
        }

        /** A copy with another student (and run) configuration. */
        public Options withStudent(GenerateBench.Options s) {
            return new Options(s, teacherHidden, teacherLayers, alpha, group);
        }

        /** A copy with another teacher width and depth (0 = the student's). */
        public Options withTeacher(int hidden, int layers) {
            return new Options(student, hidden, layers, alpha, group);
        }

        /** A copy with another mixture weight. */
        public Options withAlpha(float a) {
            return new Options(student, teacherHidden, teacherLayers, a, group);
        }

        /** A copy with another GRPO group size (0: no GRPO case). */
        public Options withGroup(int g) {
            return new Options(student, teacherHidden, teacherLayers, alpha, g);
        }

        /** The teacher's configuration: the student's with the teacher's width and depth. */
        GenerateBench.Options teacher() {
            int h = teacherHidden == 0 ? student.hidden() : teacherHidden;
            int l = teacherLayers == 0 ? student.layers() : teacherLayers;
            int inter = teacherHidden == 0 ? student.intermediate() : h * student.intermediate() / student.hidden();
            return student.withModel(h, l, student.heads(), inter, student.vocab());
        }

        /** Throws {@link IllegalArgumentException} naming the option that is out of range. */
        public void check() {
            student.check();
            if (teacherHidden < 0 || teacherLayers < 0) {
                throw new IllegalArgumentException("teacher width and depth must not be negative");
            }
            teacher().check();
            if (!(alpha >= 0 && alpha <= 1)) {
                throw new IllegalArgumentException("alpha must be in [0, 1], got " + alpha);
            }
            if (group < 0) {
                throw new IllegalArgumentException("group must be 0 (no GRPO case) or more, got " + group);
            }
        }
    }

    /**
     * One measured row.
     *
     * @param batch rows decoded together
     * @param newTokens tokens generated per row
     * @param studentTokensPerSecond plain student sampling
     * @param teacherTokensPerSecond plain teacher sampling (for the expected cost)
     * @param mixedTokensPerSecond teacher-mixed sampling
     */
    public record Row(int batch, int newTokens, double studentTokensPerSecond, double teacherTokensPerSecond,
                      double mixedTokensPerSecond) {

        /** How many times longer a mixed rollout takes than a student-only one. */
        public double cost() {
            return studentTokensPerSecond / mixedTokensPerSecond;
        }

        /** The cost of one student plus one teacher step per token, from the two measured alone. */
        public double expectedCost() {
            return 1 + studentTokensPerSecond / teacherTokensPerSecond;
        }
    }

    /**
     * One measured row of the GRPO case.
     *
     * @param batch prompts
     * @param group samples per prompt
     * @param newTokens tokens generated per row
     * @param plainTokensPerSecond G calls of one sample per prompt
     * @param groupTokensPerSecond one call over batch × G rows
     * @param scoredTokensPerSecond the same plus the scoring forward pass
     */
    public record GroupRow(int batch, int group, int newTokens, double plainTokensPerSecond,
                           double groupTokensPerSecond, double scoredTokensPerSecond) {

        /** How many times faster the batched group call is than G plain calls. */
        public double speedUp() {
            return groupTokensPerSecond / plainTokensPerSecond;
        }
    }

    /**
     * The figures printed.
     *
     * @param studentParameters parameters of the student
     * @param teacherParameters parameters of the teacher
     * @param rows one per batch size and length
     * @param groupRows the GRPO case, one per batch size and length (empty without it)
     */
    public record Result(long studentParameters, long teacherParameters, List<Row> rows, List<GroupRow> groupRows) {
    }

    /** Runs the benchmark in a run scope of {@code tensors} and prints the report to {@code out}. */
    public static Result run(PrintStream out, TensorService tensors, Options o) {
        o.check();
        GenerateBench.Options so = o.student();
        GenerateBench.Options to = o.teacher();
        HfModelService models = new HfModelService();
        Generator generator = models.generator();
        try (NDManager scope = tensors.newRunScope("bench-rollout");
             LanguageModel student = models.create(GenerateBench.config(so), so.seed(), scope);
             LanguageModel teacher = models.create(GenerateBench.config(to), so.seed() + 1, scope)) {
            long sp = parameters(student);
            long tp = parameters(teacher);
            out.printf(Locale.ROOT, "distill bench rollout: student llama hidden %d, %d layers (%s parameters); teacher "
                            + "hidden %d, %d layers (%s parameters); %d heads, vocab %d, float32, %s (%s)%n",
                    so.hidden(), so.layers(), BenchSupport.grouped(sp), to.hidden(), to.layers(),
                    BenchSupport.grouped(tp), so.heads(), so.vocab(), tensors.device(), tensors.engineDescription());
            out.println(BenchSupport.threads(scope));
            out.printf(Locale.ROOT, "sampling at temperature 1, KV caches, prompt %d tokens, no stop token; mixed = "
                            + "generateMixed with hook %.2f * p_teacher + %.2f * q_student; tokens/s = batch * new "
                            + "tokens / wall time (prompt forwards included); best of %d interleaved run(s) after a "
                            + "warm-up%n", so.promptTokens(), o.alpha(), 1 - o.alpha(), so.repeats());

            NextTokenHook hook = mixture(o.alpha());
            SplittableRandom rng = new SplittableRandom(so.seed());
            int maxBatch = java.util.Arrays.stream(so.batches()).max().getAsInt();
            List<int[]> allPrompts = new ArrayList<>();
            for (int i = 0; i < maxBatch; i++) {
                int[] p = new int[so.promptTokens()];
                for (int j = 0; j < p.length; j++) {
                    p[j] = 1 + rng.nextInt(so.vocab() - 1);
                }
                allPrompts.add(p);
            }
            for (int b : so.batches()) {
                List<int[]> prompts = allPrompts.subList(0, b);
                time(generator, student, null, null, prompts, 8, scope);
                time(generator, student, teacher, hook, prompts, 8, scope);
            }
            out.printf(Locale.ROOT, "%5s %10s %15s %15s %15s %8s %9s%n", "batch", "new-tokens", "student tok/s",
                    "teacher tok/s", "mixed tok/s", "cost", "expected");
            List<Row> rows = new ArrayList<>();
            for (int b : so.batches()) {
                List<int[]> prompts = allPrompts.subList(0, b);
                for (int n : so.lengths()) {
                    double bestStudent = Double.MAX_VALUE;
                    double bestTeacher = Double.MAX_VALUE;
                    double bestMixed = Double.MAX_VALUE;
                    for (int r = 0; r < so.repeats(); r++) {
                        bestStudent = Math.min(bestStudent, time(generator, student, null, null, prompts, n, scope));
                        bestTeacher = Math.min(bestTeacher, time(generator, teacher, null, null, prompts, n, scope));
                        bestMixed = Math.min(bestMixed, time(generator, student, teacher, hook, prompts, n, scope));
                    }
                    Row row = new Row(b, n, (double) b * n / bestStudent, (double) b * n / bestTeacher,
                            (double) b * n / bestMixed);
                    rows.add(row);
                    out.printf(Locale.ROOT, "%5d %10d %15.1f %15.1f %15.1f %7.2fx %8.2fx%n", b, n,
                            row.studentTokensPerSecond(), row.teacherTokensPerSecond(), row.mixedTokensPerSecond(),
                            row.cost(), row.expectedCost());
                    out.flush();
                }
            }
            out.println("cost = student tok/s / mixed tok/s; expected = 1 + student tok/s / teacher tok/s (one student "
                    + "and one teacher step per token, measured alone)");
            if (to.hidden() == so.hidden() && to.layers() == so.layers()) {
                for (Row row : rows) {
                    out.printf(Locale.ROOT, "goal (teacher-mixed hook costs at most 2x with a same-size teacher), "
                            + "batch %d, %d new tokens: %.2fx, %s%n", row.batch(), row.newTokens(), row.cost(),
                            row.cost() <= 2 ? "met" : "NOT met");
                }
            }
            List<GroupRow> groupRows = o.group() > 0 ? grpo(out, generator, student, allPrompts, o, scope) : List.of();
            return new Result(sp, tp, List.copyOf(rows), groupRows);
        }
    }

    /** The GRPO case: G samples per prompt batched in one call (and scored), against G plain calls. */
    private static List<GroupRow> grpo(PrintStream out, Generator generator, LanguageModel student,
                                       List<int[]> allPrompts, Options o, NDManager scope) {
        GenerateBench.Options so = o.student();
        int g = o.group();
        out.printf(Locale.ROOT, "%nGRPO rollouts (rl.grpo): G = %d samples per prompt; plain = %d calls of one sample per "
                + "prompt; group = one call over batch x G rows; group+score = that and the scoring forward pass over "
                + "the whole sequences; tokens/s = batch * G * new tokens / wall time%n", g, g);
        out.printf(Locale.ROOT, "%5s %5s %10s %15s %15s %17s %9s%n", "batch", "G", "new-tokens", "plain tok/s",
                "group tok/s", "group+score tok/s", "speed-up");
        List<GroupRow> rows = new ArrayList<>();
        for (int b : so.batches()) {
            List<int[]> prompts = allPrompts.subList(0, b);
            List<int[]> repeated = new ArrayList<>(b * g);
            for (int[] p : prompts) {
                for (int j = 0; j < g; j++) {
                    repeated.add(p);
                }
            }
            time(generator, student, null, null, repeated, 8, scope);
            for (int n : so.lengths()) {
                double bestPlain = Double.MAX_VALUE;
                double bestGroup = Double.MAX_VALUE;
                double bestScored = Double.MAX_VALUE;
                for (int r = 0; r < so.repeats(); r++) {
                    double plain = 0;
                    for (int j = 0; j < g; j++) {
                        plain += time(generator, student, null, null, prompts, n, scope);
                    }
                    bestPlain = Math.min(bestPlain, plain);
                    bestGroup = Math.min(bestGroup, time(generator, student, null, null, repeated, n, scope));
                    bestScored = Math.min(bestScored, timeScored(generator, student, repeated, n, scope));
                }
                double tokens = (double) b * g * n;
                GroupRow row = new GroupRow(b, g, n, tokens / bestPlain, tokens / bestGroup, tokens / bestScored);
                rows.add(row);
                out.printf(Locale.ROOT, "%5d %5d %10d %15.1f %15.1f %17.1f %8.2fx%n", b, g, n,
                        row.plainTokensPerSecond(), row.groupTokensPerSecond(), row.scoredTokensPerSecond(),
                        row.speedUp());
                out.flush();
            }
        }
        out.println("speed-up = group tok/s / plain tok/s (the same tokens)");
        return List.copyOf(rows);
    }

    /** Seconds of one batched rollout plus the forward pass over the prompts and responses that scores it. */
    private static double timeScored(Generator g, LanguageModel model, List<int[]> prompts, int n, NDManager scope) {
        GenerationOptions opts = new GenerationOptions(n, 1f, 0, 1f, Set.of(), 7L, true);
        try (NDManager m = scope.newSubManager()) {
            long t0 = System.nanoTime();
            GenerationResult r = g.generate(model, prompts, opts, m);
            int len = prompts.get(0).length + n;
            long[] ids = new long[prompts.size() * len];
            for (int i = 0; i < prompts.size(); i++) {
                int[] p = prompts.get(i);
                int[] t = r.tokens().get(i);
                for (int k = 0; k < len; k++) {
                    ids[i * len + k] = k < p.length ? p[k] : t[k - p.length];
                }
            }
            NDArray input = m.create(ids, new ai.djl.ndarray.types.Shape(prompts.size(), len));
            NDArray logits = model.forward(input, org.distillery.api.model.ForwardOptions.inference()).logits();
            logits.attach(m);
            logits.logSoftmax(-1).toFloatArray();
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    /** MiniLLM's mixture {@code alpha * softmax(teacher) + (1 - alpha) * softmax(student)}. */
    static NextTokenHook mixture(float alpha) {
        return (step, studentLogits, teacherLogits) -> {
            NDArray p = teacherLogits.softmax(-1);
            NDArray q = studentLogits.softmax(-1);
            // not differentiated: generation records no gradient, so Number scalars are safe here
            return p.mul(alpha).add(q.mul(1 - alpha));
        };
    }

    private static long parameters(LanguageModel m) {
        long n = 0;
        for (NDArray p : m.parameters().values()) {
            n += p.getShape().size();
        }
        return n;
    }

    /** Seconds of one rollout; checks that every row produced {@code n} tokens. */
    private static double time(Generator g, LanguageModel model, LanguageModel teacher, NextTokenHook hook,
                               List<int[]> prompts, int n, NDManager scope) {
        GenerationOptions opts = new GenerationOptions(n, 1f, 0, 1f, Set.of(), 7L, true);
        try (NDManager m = scope.newSubManager()) {
            long t0 = System.nanoTime();
            GenerationResult r = teacher == null ? g.generate(model, prompts, opts, m)
                    : g.generateMixed(model, teacher, hook, prompts, opts, m);
            double seconds = (System.nanoTime() - t0) / 1e9;
            for (int[] t : r.tokens()) {
                if (t.length != n) {
                    throw new IllegalStateException("a row stopped after " + t.length + " of " + n
                            + " tokens; the figures would not be comparable");
                }
            }
            return seconds;
        }
    }
}
