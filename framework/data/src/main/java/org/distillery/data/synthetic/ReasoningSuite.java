package org.distillery.data.synthetic;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.data.synthetic.ArithmeticTrace.Op;
import org.distillery.kit.io.AtomicFiles;

/**
 * The reasoning part of the synthetic suite: multi-digit addition, subtraction and
 * multiplication by one digit whose answers a program checks, with step-by-step traces a teacher
 * can learn to write ({@link ArithmeticTrace}), and an out-of-domain test part whose problems have
 * more digits than any training problem.
 *
 * <p>Files ({@link #write}): {@code train.jsonl} (responses are traces
 * {@code <think>…</think><answer>…</answer>}), {@code train-answers.jsonl} (the same prompts,
 * responses {@code <answer>…</answer>} only), {@code validation.jsonl} (traces),
 * {@code test.jsonl} (traces; the in-domain problems with {@code meta.task = reasoning}, then the
 * out-of-domain ones with {@code meta.task = reasoning-ood}) and {@code suite.json}. Every record's
 * meta names the task, {@code op} (add, sub, mul), {@code digits} (of the longest operand) and the
 * {@code answer} a reward or metric checks.
 *
 * <p>Deterministic like {@link SyntheticSuite}: the same settings give the same bytes; no problem
 * (operation and operands, whatever the phrasing) appears in two splits; test problems are drawn
 * first, then validation, then train.
 */
public final class ReasoningSuite {

    /** {@code meta.task} of in-domain problems. */
    public static final String TASK = "reasoning";
    /** {@code meta.task} of out-of-domain problems. */
    public static final String TASK_OOD = "reasoning-ood";
    /** The file of the answers-only training records. */
    public static final String TRAIN_ANSWERS = "train-answers";
    /** How a problem is asked, chosen per problem. */
    static final List<String> PHRASINGS = List.of("{a} {op} {b} = ?", "What is {a} {op} {b}?",
            "Calculate {a} {op} {b}.");

    private static final int MAX_MISSES = 100_000;

    /**
     * A generated reasoning suite.
     *
     * @param settings its settings
     * @param train training records (traces)
     * @param trainAnswers the training prompts with answer-only responses
     * @param validation validation records (traces)
     * @param test in-domain test records, then the out-of-domain ones
     */
    public record Result(ReasoningSettings settings, List<Example> train, List<Example> trainAnswers,
                         List<Example> validation, List<Example> test) {

        /** Writes the files and {@code suite.json} into {@code dir} (created if missing), each atomically. */
        public void write(Path dir) throws IOException {
            Files.createDirectories(dir);
            JsonlDataService data = new JsonlDataService();
            data.writeJsonl(dir.resolve(Suite.fileName(Suite.TRAIN)), train);
            data.writeJsonl(dir.resolve(Suite.fileName(TRAIN_ANSWERS)), trainAnswers);
            data.writeJsonl(dir.resolve(Suite.fileName(Suite.VALIDATION)), validation);
            data.writeJsonl(dir.resolve(Suite.fileName(Suite.TEST)), test);
            String json = new GsonBuilder().setPrettyPrinting().disableHtmlEscaping().create().toJson(summary());
            AtomicFiles.writeString(dir.resolve(Suite.SUITE_FILE), json + "\n");
        }

        /** The content of {@code suite.json}: format, settings and counts by task and operation. */
        public JsonObject summary() {
            JsonObject o = new JsonObject();
            o.addProperty("format", "distillery-reasoning-suite");
            o.addProperty("version", 1);
            o.add("settings", settings.toJson());
            JsonObject counts = new JsonObject();
            Map<String, List<Example>> files = new LinkedHashMap<>();
            files.put(Suite.TRAIN, train);
            files.put(TRAIN_ANSWERS, trainAnswers);
            files.put(Suite.VALIDATION, validation);
            files.put(Suite.TEST, test);
            files.forEach((name, examples) -> {
                Map<String, Integer> byKey = new TreeMap<>();
                for (Example e : examples) {
                    byKey.merge(e.meta().get("task") + "/" + e.meta().get("op"), 1, Integer::sum);
                }
                JsonObject c = new JsonObject();
                c.addProperty("total", examples.size());
                byKey.forEach(c::addProperty);
                counts.add(name, c);
            });
            o.add("counts", counts);
            return o;
        }
    }

    private ReasoningSuite() {
    }

    /** Generates the suite. */
    public static Result generate(ReasoningSettings s) {
        Set<String> seen = new HashSet<>();
        Map<String, List<Draft>> drafts = new LinkedHashMap<>();
        for (String split : List.of(Suite.TEST, Suite.VALIDATION, Suite.TRAIN)) {
            drafts.put(split, new ArrayList<>());
        }
        List<Draft> ood = new ArrayList<>();
        for (Op op : Op.values()) {
            Random rng = SyntheticSuite.rng(s.seed(), "reasoning:" + op.key());
            drafts.get(Suite.TEST).addAll(draw(op, share(s.testSize(), op), s.maxDigits(), false, rng, seen));
            drafts.get(Suite.VALIDATION).addAll(draw(op, share(s.validationSize(), op), s.maxDigits(), false, rng,
                    seen));
            drafts.get(Suite.TRAIN).addAll(draw(op, share(s.trainSize(), op), s.maxDigits(), false, rng, seen));
            Random oodRng = SyntheticSuite.rng(s.seed(), "reasoning-ood:" + op.key());
            ood.addAll(draw(op, share(s.oodSize(), op), s.oodDigits(), true, oodRng, seen));
        }
        Map<String, List<Example>> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Draft>> e : drafts.entrySet()) {
            List<Draft> list = new ArrayList<>(e.getValue());
            Collections.shuffle(list, SyntheticSuite.rng(s.seed(), "reasoning-order:" + e.getKey()));
            out.put(e.getKey(), examples(e.getKey(), list, TASK));
        }
        Collections.shuffle(ood, SyntheticSuite.rng(s.seed(), "reasoning-order:ood"));
        List<Example> test = new ArrayList<>(out.get(Suite.TEST));
        test.addAll(examples("ood", ood, TASK_OOD));
        List<Example> answers = new ArrayList<>();
        for (Example e : out.get(Suite.TRAIN)) {
            answers.add(Example.pair(e.id(), e.prompt(),
                    ArithmeticTrace.answerOnly(Long.parseLong(e.meta().get("answer"))), e.meta()));
        }
        return new Result(s, out.get(Suite.TRAIN), List.copyOf(answers), out.get(Suite.VALIDATION), List.copyOf(test));
    }

    /** An even share of {@code size} for {@code op}, the remainder to the first operations. */
    static int share(int size, Op op) {
        int ops = Op.values().length;
        return size / ops + (op.ordinal() < size % ops ? 1 : 0);
    }

    /** A problem before it gets its id and task. */
    private record Draft(Op op, long a, long b, String prompt) {
    }

    private static List<Draft> draw(Op op, int n, int digits, boolean exact, Random rng, Set<String> seen) {
        List<Draft> out = new ArrayList<>(n);
        int misses = 0;
        while (out.size() < n) {
            Draft d = problem(op, digits, exact, rng);
            if (seen.add(op.key() + ":" + d.a + ":" + d.b)) {
                out.add(d);
                misses = 0;
            } else if (++misses > MAX_MISSES) {
                throw new IllegalArgumentException("reasoning suite: cannot find " + n + " distinct " + op.key()
                        + " problems of " + (exact ? "exactly " : "at most ") + digits + " digits; lower the split sizes"
                        + (exact ? "" : " or raise max-digits"));
            }
        }
        return out;
    }

    /**
     * One problem: the first operand has 1 to {@code digits} digits (exactly {@code digits} when
     * {@code exact}); the second the same for addition and subtraction (which puts the larger first),
     * a digit from 2 to 9 for multiplication.
     */
    private static Draft problem(Op op, int digits, boolean exact, Random rng) {
        long a = operand(rng, exact ? digits : 1 + rng.nextInt(digits));
        long b = op == Op.MUL ? 2 + rng.nextInt(8) : operand(rng, 1 + rng.nextInt(digits));
        if (op == Op.SUB && b > a) {
            long t = a;
            a = b;
            b = t;
        }
        String prompt = PHRASINGS.get(rng.nextInt(PHRASINGS.size())).replace("{a}", Long.toString(a))
                .replace("{op}", op.symbol()).replace("{b}", Long.toString(b));
        return new Draft(op, a, b, prompt);
    }

    /** A number of exactly {@code digits} digits (0-9 for one digit). */
    private static long operand(Random rng, int digits) {
        if (digits == 1) {
            return rng.nextInt(10);
        }
        long lo = 1;
        for (int i = 1; i < digits; i++) {
            lo *= 10;
        }
        return lo + (long) (rng.nextDouble() * (9 * lo));
    }

    private static List<Example> examples(String prefix, List<Draft> drafts, String task) {
        List<Example> out = new ArrayList<>(drafts.size());
        int width = Math.max(5, Integer.toString(Math.max(0, drafts.size() - 1)).length());
        for (int i = 0; i < drafts.size(); i++) {
            Draft d = drafts.get(i);
            Map<String, String> meta = new LinkedHashMap<>();
            meta.put("task", task);
            meta.put("op", d.op.key());
            meta.put("digits", Integer.toString(Math.max(Long.toString(d.a).length(), Long.toString(d.b).length())));
            meta.put("answer", Long.toString(ArithmeticTrace.result(d.op, d.a, d.b)));
            String num = Integer.toString(i);
            String id = "reasoning-" + prefix + "-" + "0".repeat(Math.max(0, width - num.length())) + num;
            out.add(Example.pair(id, d.prompt, ArithmeticTrace.response(d.op, d.a, d.b), meta));
        }
        return List.copyOf(out);
    }
}
