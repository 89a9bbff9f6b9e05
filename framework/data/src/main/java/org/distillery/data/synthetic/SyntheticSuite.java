package org.distillery.data.synthetic;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.function.Function;

import org.distillery.api.data.Example;
import org.distillery.data.synthetic.World.Attribute;
import org.distillery.data.synthetic.World.Entity;
import org.distillery.data.synthetic.World.Fact;

/**
 * Generates the synthetic task suite: a world, instruction examples about it in train,
 * validation and test splits with no prompt shared between splits, and a pre-training corpus.
 *
 * <p>Yes/no questions ask about stated knowledge: every fact has one fixed distractor value (drawn
 * once per fact), a "yes" question names the true value and a "no" question the distractor, and
 * the corpus states both ("kohigo loves plums.", "kohigo does not love honey."). Every (fact,
 * answer) pair asked in validation or test is also asked in train in another phrasing, as the fact
 * questions are paraphrases of facts the corpus states: the answer is recalled, not inferred by
 * comparing values, which is what lets the embedded teacher learn them and makes calibration (ECE)
 * measurable.
 *
 * <p>Deterministic: every random choice comes from a {@link Random} derived from the seed and
 * a fixed purpose, and nothing depends on hash iteration order, so the same settings give the
 * same examples (and {@link Suite#write} the same bytes) on every JVM. Test examples of each task
 * are drawn first, then validation, then train, so changing only the train size leaves the
 * test and validation splits unchanged.
 */
public final class SyntheticSuite {

    /** Longest prompt, in characters. */
    public static final int MAX_PROMPT_CHARS = 80;
    /** Longest response of the exact-answer and yes/no tasks, in characters. */
    public static final int MAX_RESPONSE_CHARS = 48;
    /** Longest description response, in characters. */
    public static final int MAX_DESCRIBE_CHARS = 120;

    private static final int MAX_MISSES = 100_000;

    private SyntheticSuite() {
    }

    /** Generates the whole suite. */
    public static Suite generate(SuiteSettings settings) {
        long seed = settings.seed();
        World world = World.generate(settings.entities(), rng(seed, "world"));
        Map<String, String> distractors = distractors(world, rng(seed, "distractors"));
        Set<String> seen = new HashSet<>();
        Map<String, List<Draft>> drafts = new LinkedHashMap<>();
        for (String split : Suite.SPLITS) {
            drafts.put(split, new ArrayList<>());
        }
        List<String> drawOrder = List.of(Suite.TEST, Suite.VALIDATION, Suite.TRAIN);
        for (Task task : Task.values()) {
            Map<String, Integer> counts = new LinkedHashMap<>();
            for (String split : drawOrder) {
                counts.put(split, share(sizeOf(settings, split), task));
            }
            Source source = source(task, world, distractors, settings, rng(seed, "task:" + task.key()),
                    counts.values());
            for (String split : drawOrder) {
                drafts.get(split).addAll(source.draw(split, counts.get(split), seen));
            }
        }
        Map<String, List<Example>> splits = new LinkedHashMap<>();
        for (String split : Suite.SPLITS) {
            List<Draft> list = new ArrayList<>(drafts.get(split));
            Collections.shuffle(list, rng(seed, "order:" + split));
            List<Example> examples = new ArrayList<>(list.size());
            for (int i = 0; i < list.size(); i++) {
                Draft d = list.get(i);
                examples.add(Example.pair(id(split, i, list.size()), d.prompt, d.response, d.meta));
            }
            splits.put(split, List.copyOf(examples));
        }
        List<Example> corpus = corpus(world, distractors, settings.corpusSize(), rng(seed, "corpus"));
        return new Suite(settings, world, splits.get(Suite.TRAIN), splits.get(Suite.VALIDATION),
                splits.get(Suite.TEST), corpus);
    }

    /** The number of examples of {@code task} in a split of {@code size}: an even share, the remainder to the first tasks. */
    static int share(int size, Task task) {
        int tasks = Task.values().length;
        return size / tasks + (task.ordinal() < size % tasks ? 1 : 0);
    }

    private static int sizeOf(SuiteSettings s, String split) {
        return switch (split) {
            case Suite.TRAIN -> s.trainSize();
            case Suite.VALIDATION -> s.validationSize();
            case Suite.TEST -> s.testSize();
            default -> throw new IllegalArgumentException(split);
        };
    }

    private static String id(String prefix, int i, int n) {
        int width = Math.max(5, Integer.toString(Math.max(0, n - 1)).length());
        String num = Integer.toString(i);
        return prefix + "-" + "0".repeat(Math.max(0, width - num.length())) + num;
    }

    // ---------------------------------------------------------------- sources

    /** A prompt/response/meta triple before it gets its id. */
    private record Draft(String prompt, String response, Map<String, String> meta) {
    }

    /** Yields distinct drafts for a split; splits are drawn test, validation, train. */
    private interface Source {
        List<Draft> draw(String split, int n, Set<String> seen);
    }

    /** The distractor of each fact, by {@link #factKey}: a fixed wrong value its "no" questions name. */
    static Map<String, String> distractors(World world, Random rng) {
        Map<String, String> out = new LinkedHashMap<>();
        for (Fact f : world.facts()) {
            out.put(factKey(f.entity().name(), f.attribute().key()), world.wrongValue(f, rng));
        }
        return out;
    }

    /** {@code entity|attribute}. */
    static String factKey(String entity, String attribute) {
        return entity + "|" + attribute;
    }

    private static Source source(Task task, World world, Map<String, String> distractors, SuiteSettings settings,
                                 Random rng, java.util.Collection<Integer> counts) {
        int needed = 0;
        int yesNeeded = 0;
        for (int n : counts) {
            needed += n;
            yesNeeded += (n + 1) / 2;
        }
        int noNeeded = needed - yesNeeded;
        return switch (task) {
            case FACT -> pool(task, factPool(world), rng, needed, settings);
            case DESCRIBE -> pool(task, describePool(world, rng), rng, needed, settings);
            case YESNO -> yesNo(world, distractors, rng, yesNeeded, noNeeded, settings);
            case ARITH -> generated(task, r -> arith(r, settings.maxDigits()), rng);
            case STRING -> generated(task, SyntheticSuite::stringTransform, rng);
        };
    }

    private static Source pool(Task task, List<Draft> pool, Random rng, int needed, SuiteSettings settings) {
        if (pool.size() < needed) {
            throw new IllegalArgumentException("synthetic suite: task " + task.key() + " needs " + needed
                    + " distinct prompts across its splits but a world of " + settings.entities()
                    + " entities offers only " + pool.size() + "; raise entities or lower the split sizes");
        }
        List<Draft> shuffled = new ArrayList<>(pool);
        Collections.shuffle(shuffled, rng);
        int[] next = {0};
        return (split, n, seen) -> {
            List<Draft> out = new ArrayList<>(n);
            while (out.size() < n) {
                if (next[0] >= shuffled.size()) {
                    throw new IllegalArgumentException("synthetic suite: task " + task.key()
                            + " ran out of distinct prompts; raise entities or lower the split sizes");
                }
                Draft d = shuffled.get(next[0]++);
                if (seen.add(d.prompt)) {
                    out.add(d);
                }
            }
            return out;
        };
    }

    /**
     * Yes/no questions: "yes" names the true value, "no" the fact's distractor, in every phrasing.
     * Test and validation are drawn at random (balanced); train first asks every (fact, answer) pair
     * of test and validation once more in a phrasing not used yet, then draws at random.
     */
    private static Source yesNo(World world, Map<String, String> distractors, Random rng, int yesNeeded,
                                int noNeeded, SuiteSettings settings) {
        List<Draft> yes = new ArrayList<>();
        List<Draft> no = new ArrayList<>();
        for (Fact f : world.facts()) {
            String distractor = distractors.get(factKey(f.entity().name(), f.attribute().key()));
            for (String t : Templates.YESNO.get(f.entity().kind()).get(f.attribute())) {
                yes.add(new Draft(Templates.fill(t, f.entity().name(), f.value()), "yes", yesNoMeta(f, "yes")));
                no.add(new Draft(Templates.fill(t, f.entity().name(), distractor), "no", yesNoMeta(f, "no")));
            }
        }
        Source yesSource = pool(Task.YESNO, yes, rng, yesNeeded, settings);
        Source noSource = pool(Task.YESNO, no, rng, noNeeded, settings);
        Map<String, List<Draft>> byPair = new LinkedHashMap<>();
        for (Draft d : yes) {
            byPair.computeIfAbsent(pairKey(d), k -> new ArrayList<>()).add(d);
        }
        for (Draft d : no) {
            byPair.computeIfAbsent(pairKey(d), k -> new ArrayList<>()).add(d);
        }
        List<String> heldOutPairs = new ArrayList<>();
        return (split, n, seen) -> {
            List<Draft> out = new ArrayList<>();
            int yesCovered = 0;
            if (split.equals(Suite.TRAIN)) {
                for (String pair : heldOutPairs) {
                    if (out.size() >= n) {
                        break;
                    }
                    for (Draft d : byPair.get(pair)) {
                        if (seen.add(d.prompt)) {
                            out.add(d);
                            yesCovered += d.response.equals("yes") ? 1 : 0;
                            break;
                        }
                    }
                }
            }
            int yesLeft = Math.max(0, (n + 1) / 2 - yesCovered);
            int noLeft = Math.max(0, n - out.size() - yesLeft);
            yesLeft = n - out.size() - noLeft;
            List<Draft> drawn = new ArrayList<>(yesSource.draw(split, yesLeft, seen));
            drawn.addAll(noSource.draw(split, noLeft, seen));
            if (!split.equals(Suite.TRAIN)) {
                drawn.forEach(d -> heldOutPairs.add(pairKey(d)));
            }
            out.addAll(drawn);
            return out;
        };
    }

    /** {@code entity|attribute|answer} of a yes/no draft. */
    private static String pairKey(Draft d) {
        return factKey(d.meta.get("entity"), d.meta.get("attribute")) + "|" + d.response;
    }

    private static Source generated(Task task, Function<Random, Draft> generator, Random rng) {
        return (split, n, seen) -> {
            List<Draft> out = new ArrayList<>(n);
            int misses = 0;
            while (out.size() < n) {
                Draft d = generator.apply(rng);
                if (seen.add(d.prompt)) {
                    out.add(d);
                    misses = 0;
                } else if (++misses > MAX_MISSES) {
                    throw new IllegalArgumentException("synthetic suite: cannot find " + n + " distinct "
                            + task.key() + " prompts; lower the split sizes"
                            + (task == Task.ARITH ? " or raise maxDigits" : ""));
                }
            }
            return out;
        };
    }

    private static List<Draft> factPool(World world) {
        List<Draft> pool = new ArrayList<>();
        for (Fact f : world.facts()) {
            for (String t : Templates.QUESTIONS.get(f.entity().kind()).get(f.attribute())) {
                pool.add(new Draft(Templates.fill(t, f.entity().name(), f.value()), f.value(),
                        meta(Task.FACT, "kind", f.entity().kind().key(), "attribute", f.attribute().key(),
                                "entity", f.entity().name())));
            }
        }
        return pool;
    }

    private static List<Draft> describePool(World world, Random rng) {
        List<Draft> pool = new ArrayList<>();
        for (Entity e : world.entities()) {
            List<String> descriptions = Templates.DESCRIPTIONS.get(e.kind());
            for (String t : Templates.DESCRIBE_PROMPTS.get(e.kind())) {
                String response = Templates.describe(World.pick(descriptions, rng), e);
                pool.add(new Draft(Templates.fill(t, e.name(), ""), response,
                        meta(Task.DESCRIBE, "kind", e.kind().key(), "entity", e.name())));
            }
        }
        return pool;
    }

    private static Map<String, String> yesNoMeta(Fact f, String label) {
        return meta(Task.YESNO, "label", label, "kind", f.entity().kind().key(), "attribute", f.attribute().key(),
                "entity", f.entity().name());
    }

    private static Draft arith(Random rng, int maxDigits) {
        int op = rng.nextInt(3);
        long a;
        long b;
        String symbol;
        long result;
        String name;
        switch (op) {
            case 0 -> {
                a = operand(rng, maxDigits);
                b = operand(rng, maxDigits);
                symbol = "+";
                result = a + b;
                name = "add";
            }
            case 1 -> {
                long x = operand(rng, maxDigits);
                long y = operand(rng, maxDigits);
                a = Math.max(x, y);
                b = Math.min(x, y);
                symbol = "-";
                result = a - b;
                name = "sub";
            }
            default -> {
                a = operand(rng, maxDigits);
                b = operand(rng, Math.max(1, maxDigits - 1));
                symbol = "*";
                result = a * b;
                name = "mul";
            }
        }
        String prompt = World.pick(Templates.ARITH, rng).replace("{a}", Long.toString(a))
                .replace("{op}", symbol).replace("{b}", Long.toString(b));
        return new Draft(prompt, Long.toString(result), meta(Task.ARITH, "op", name));
    }

    /** A number with 1 to {@code maxDigits} digits (the digit count uniform). */
    private static long operand(Random rng, int maxDigits) {
        int digits = 1 + rng.nextInt(maxDigits);
        if (digits == 1) {
            return rng.nextInt(10);
        }
        long lo = pow10(digits - 1);
        return lo + (long) (rng.nextDouble() * (9 * lo));
    }

    private static long pow10(int n) {
        long p = 1;
        for (int i = 0; i < n; i++) {
            p *= 10;
        }
        return p;
    }

    private static Draft stringTransform(Random rng) {
        String op = World.pick(Templates.STRING_OPS, rng);
        String word;
        do {
            word = rng.nextBoolean() ? World.pseudoWord(rng) : randomLetters(rng, 3 + rng.nextInt(5));
        } while (!World.acceptable(word));
        String template = World.pick(Templates.STRING.get(op), rng);
        String response;
        String letter = "";
        switch (op) {
            case "reverse" -> response = new StringBuilder(word).reverse().toString();
            case "sort" -> {
                char[] cs = word.toCharArray();
                java.util.Arrays.sort(cs);
                response = new String(cs);
            }
            case "count" -> {
                char c;
                if (rng.nextInt(100) < 70) {
                    c = word.charAt(rng.nextInt(word.length()));
                } else {
                    do {
                        c = (char) ('a' + rng.nextInt(26));
                    } while (word.indexOf(c) >= 0);
                }
                letter = String.valueOf(c);
                int count = 0;
                for (int k = 0; k < word.length(); k++) {
                    if (word.charAt(k) == c) {
                        count++;
                    }
                }
                response = Integer.toString(count);
            }
            case "length" -> response = Integer.toString(word.length());
            default -> throw new IllegalStateException(op);
        }
        String prompt = template.replace("{w}", word).replace("{c}", letter);
        return new Draft(prompt, response, meta(Task.STRING, "op", op));
    }

    private static String randomLetters(Random rng, int length) {
        StringBuilder sb = new StringBuilder(length);
        for (int i = 0; i < length; i++) {
            sb.append((char) ('a' + rng.nextInt(26)));
        }
        return sb.toString();
    }

    private static Map<String, String> meta(Task task, String... kv) {
        Map<String, String> m = new LinkedHashMap<>();
        m.put("task", task.key());
        for (int i = 0; i < kv.length; i += 2) {
            m.put(kv[i], kv[i + 1]);
        }
        return m;
    }

    // ---------------------------------------------------------------- corpus

    /**
     * Plain-text records, each about one entity: all its facts stated in a random order and
     * phrasing (about half the records), all its distractors stated as false (a fifth), or one of
     * its descriptions (the rest). Entities take turns; in the first three rounds every entity gets
     * one record of each kind, so every fact and every distractor is stated (when the corpus has
     * that many records), and many times in the default corpus.
     */
    private static List<Example> corpus(World world, Map<String, String> distractors, int size, Random rng) {
        List<Example> out = new ArrayList<>(size);
        List<Entity> order = new ArrayList<>(world.entities());
        for (int i = 0; i < size; i++) {
            if (i % order.size() == 0) {
                Collections.shuffle(order, rng);
            }
            Entity e = order.get(i % order.size());
            String text;
            int round = i / order.size();
            int kind = round == 0 ? 50 : round == 1 ? 90 : round == 2 ? 0 : rng.nextInt(100);
            if (kind < 30) {
                text = Templates.describe(World.pick(Templates.DESCRIPTIONS.get(e.kind()), rng), e);
            } else {
                boolean negated = kind >= 80;
                List<Attribute> attrs = new ArrayList<>(e.kind().attributes());
                Collections.shuffle(attrs, rng);
                StringBuilder sb = new StringBuilder();
                for (Attribute a : attrs) {
                    if (sb.length() > 0) {
                        sb.append(' ');
                    }
                    String value = negated ? distractors.get(factKey(e.name(), a.key())) : e.get(a);
                    var templates = (negated ? Templates.NEGATIONS : Templates.STATEMENTS).get(e.kind()).get(a);
                    sb.append(Templates.fill(World.pick(templates, rng), e.name(), value));
                }
                text = sb.toString();
            }
            out.add(Example.text(id("corpus", i, size), text));
        }
        return List.copyOf(out);
    }

    // ---------------------------------------------------------------- randomness

    /** A generator derived from the seed and a purpose, independent of every other purpose. */
    static Random rng(long seed, String purpose) {
        return new Random(mix(seed ^ mix(purpose.hashCode())));
    }

    private static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }
}
