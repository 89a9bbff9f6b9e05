package org.distillery.data.synthetic;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.data.synthetic.World.Attribute;
import org.distillery.data.synthetic.World.Entity;

class SyntheticSuiteTest {

    private static final SuiteSettings SETTINGS = SuiteSettings.defaults();
    private static Suite suite;

    @TempDir
    Path dir;

    @BeforeAll
    static void generate() {
        suite = SyntheticSuite.generate(SETTINGS);
    }

    private static List<Example> all() {
        List<Example> all = new ArrayList<>();
        for (String split : Suite.SPLITS) {
            all.addAll(suite.split(split));
        }
        return all;
    }

    @Test
    void splitSizesMatchSettings() {
        assertEquals(SETTINGS.trainSize(), suite.train().size());
        assertEquals(SETTINGS.validationSize(), suite.validation().size());
        assertEquals(SETTINGS.testSize(), suite.test().size());
        assertEquals(SETTINGS.corpusSize(), suite.corpus().size());
    }

    @Test
    void sameSeedGivesSameBytes() throws IOException {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        suite.write(a);
        SyntheticSuite.generate(SuiteSettings.defaults()).write(b);
        for (String f : List.of("train.jsonl", "validation.jsonl", "test.jsonl", "corpus.jsonl", "suite.json")) {
            assertArrayEquals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f)), f);
        }
    }

    @Test
    void differentSeedGivesDifferentWorldAndData() throws IOException {
        Suite other = SyntheticSuite.generate(SETTINGS.withSeed(SETTINGS.seed() + 1));
        Set<String> names = names(suite.world());
        Set<String> otherNames = names(other.world());
        assertNotEquals(names, otherNames);
        Set<String> common = new HashSet<>(names);
        common.retainAll(otherNames);
        assertTrue(common.size() < names.size() / 4, "worlds share too many names: " + common);
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        suite.write(a);
        other.write(b);
        for (String f : List.of("train.jsonl", "validation.jsonl", "test.jsonl", "corpus.jsonl")) {
            assertFalse(Arrays.equals(Files.readAllBytes(a.resolve(f)), Files.readAllBytes(b.resolve(f))), f);
        }
    }

    @Test
    void writtenFilesReadBackAndSuiteJsonDescribesThem() throws IOException {
        suite.write(dir);
        JsonlDataService data = new JsonlDataService();
        for (String split : List.of(Suite.TRAIN, Suite.VALIDATION, Suite.TEST, Suite.CORPUS)) {
            assertEquals(suite.split(split), data.readJsonl(dir.resolve(Suite.fileName(split))), split);
        }
        assertEquals(SETTINGS, Suite.readSettings(dir));
        String json = Files.readString(dir.resolve(Suite.SUITE_FILE));
        assertTrue(json.contains("\"trainSize\": 2000"), json);
        assertTrue(json.contains("\"yesno\": 40"), json);
        assertEquals(List.of("corpus.jsonl", "suite.json", "test.jsonl", "train.jsonl", "validation.jsonl"),
                listing(dir), "no temporary files left");
    }

    @Test
    void splitsShareNoPrompt() {
        Map<String, String> owner = new HashMap<>();
        for (String split : Suite.SPLITS) {
            Set<String> inSplit = new HashSet<>();
            for (Example e : suite.split(split)) {
                String before = owner.putIfAbsent(e.prompt(), split);
                assertTrue(before == null || before.equals(split),
                        "prompt in " + before + " and " + split + ": " + e.prompt());
                assertTrue(inSplit.add(e.prompt()), "duplicate prompt in " + split + ": " + e.prompt());
            }
        }
    }

    @Test
    void idsAreUniqueAndEveryTaskIsInEverySplit() {
        Set<String> ids = new HashSet<>();
        for (String split : Suite.SPLITS) {
            Map<String, Integer> counts = new HashMap<>();
            for (Example e : suite.split(split)) {
                assertTrue(ids.add(e.id()), "duplicate id " + e.id());
                assertTrue(e.id().startsWith(split + "-"), e.id());
                counts.merge(e.meta().get("task"), 1, Integer::sum);
            }
            for (Task t : Task.values()) {
                assertTrue(counts.getOrDefault(t.key(), 0) > 0, t.key() + " missing from " + split);
                assertEquals(SyntheticSuite.share(suite.split(split).size(), t), counts.get(t.key()));
            }
            assertEquals(Task.values().length, counts.size(), "unexpected tasks " + counts.keySet());
        }
    }

    @Test
    void smallSplitsStillHoldEveryTask() {
        Suite small = SyntheticSuite.generate(new SuiteSettings(7, 8, 5, 5, 7, 3, 1));
        for (String split : Suite.SPLITS) {
            Set<String> tasks = new HashSet<>();
            for (Example e : small.split(split)) {
                tasks.add(e.meta().get("task"));
            }
            assertEquals(Task.values().length, tasks.size(), split);
        }
        assertEquals(3, small.corpus().size());
    }

    @Test
    void yesNoIsBalancedInEverySplitAndLabelsAreTrue() {
        World world = suite.world();
        for (String split : Suite.SPLITS) {
            int yes = 0;
            int no = 0;
            for (Example e : suite.split(split)) {
                if (!"yesno".equals(e.meta().get("task"))) {
                    assertFalse(e.meta().containsKey("label"), e.toString());
                    continue;
                }
                String label = e.meta().get("label");
                assertEquals(label, e.response());
                if (label.equals("yes")) {
                    yes++;
                } else {
                    assertEquals("no", label);
                    no++;
                }
                // the question mentions the true value iff the label is yes
                Entity entity = world.find(e.meta().get("entity"));
                assertNotNull(entity, e.toString());
                Attribute attribute = Attribute.valueOf(e.meta().get("attribute").toUpperCase(java.util.Locale.ROOT));
                String truth = entity.get(attribute);
                boolean mentionsTruth = words(e.prompt()).contains(truth);
                assertEquals(label.equals("yes"), mentionsTruth, e.toString());
            }
            int total = yes + no;
            assertTrue(total > 0);
            assertTrue(Math.abs(yes - no) <= Math.max(1, total / 10), split + ": yes=" + yes + " no=" + no);
        }
    }

    @Test
    void noQuestionsNameTheFactsDistractorWhichTheCorpusStatesAsFalse() {
        World world = suite.world();
        Map<String, String> distractors = SyntheticSuite.distractors(world,
                SyntheticSuite.rng(SETTINGS.seed(), "distractors"));
        for (Example e : all()) {
            if (!"no".equals(e.meta().get("label"))) {
                continue;
            }
            String distractor = distractors.get(SyntheticSuite.factKey(e.meta().get("entity"),
                    e.meta().get("attribute")));
            assertTrue(words(e.prompt()).containsAll(words(distractor)), e + " does not name " + distractor);
        }
        int negated = 0;
        for (Example c : suite.corpus()) {
            if (c.text().contains(" not ")) {
                negated++;
            }
        }
        assertTrue(negated > SETTINGS.corpusSize() / 10, "too few negated corpus records: " + negated);
        for (World.Fact f : world.facts()) {
            String d = distractors.get(SyntheticSuite.factKey(f.entity().name(), f.attribute().key()));
            assertNotEquals(f.value(), d, f.toString());
            boolean stated = false;
            for (Example c : suite.corpus()) {
                List<String> w = words(c.text());
                if (c.text().contains(" not ") && w.contains(f.entity().name()) && w.containsAll(words(d))) {
                    stated = true;
                    break;
                }
            }
            assertTrue(stated, "distractor of " + f + " (" + d + ") never stated as false");
        }
    }

    @Test
    void everyHeldOutYesNoPairIsAskedInTrainInAnotherPhrasing() {
        Set<String> trainPairs = new HashSet<>();
        for (Example e : suite.train()) {
            if ("yesno".equals(e.meta().get("task"))) {
                trainPairs.add(e.meta().get("entity") + "|" + e.meta().get("attribute") + "|" + e.response());
            }
        }
        for (String split : List.of(Suite.VALIDATION, Suite.TEST)) {
            for (Example e : suite.split(split)) {
                if ("yesno".equals(e.meta().get("task"))) {
                    assertTrue(trainPairs.contains(e.meta().get("entity") + "|" + e.meta().get("attribute") + "|"
                            + e.response()), split + " pair not asked in train: " + e);
                }
            }
        }
    }

    @Test
    void factAnswersAreTrueAndStatedInTheCorpus() {
        World world = suite.world();
        for (Example e : all()) {
            if (!"fact".equals(e.meta().get("task"))) {
                continue;
            }
            Entity entity = world.find(e.meta().get("entity"));
            Attribute attribute = Attribute.valueOf(e.meta().get("attribute").toUpperCase(java.util.Locale.ROOT));
            assertEquals(entity.get(attribute), e.response(), e.toString());
            assertTrue(words(e.prompt()).contains(entity.name()), e.toString());
        }
        // every fact is stated somewhere in the corpus next to its entity's name
        int withAll = 0;
        for (World.Fact f : world.facts()) {
            for (Example c : suite.corpus()) {
                List<String> w = words(c.text());
                if (w.contains(f.entity().name()) && w.contains(f.value())) {
                    withAll++;
                    break;
                }
            }
        }
        assertEquals(world.facts().size(), withAll, "facts never stated with their entity");
    }

    @Test
    void arithmeticAnswersAreCorrect() {
        Pattern p = Pattern.compile("(\\d+) ([-+*]) (\\d+)");
        int n = 0;
        for (Example e : all()) {
            if (!"arith".equals(e.meta().get("task"))) {
                continue;
            }
            Matcher m = p.matcher(e.prompt());
            assertTrue(m.find(), e.prompt());
            long a = Long.parseLong(m.group(1));
            long b = Long.parseLong(m.group(3));
            long expected = switch (m.group(2)) {
                case "+" -> a + b;
                case "-" -> a - b;
                default -> a * b;
            };
            assertEquals(Long.toString(expected), e.response(), e.prompt());
            assertTrue(expected >= 0, e.prompt());
            assertTrue(m.group(1).length() <= SETTINGS.maxDigits() && m.group(3).length() <= SETTINGS.maxDigits());
            String op = Map.of("+", "add", "-", "sub", "*", "mul").get(m.group(2));
            assertEquals(op, e.meta().get("op"));
            n++;
        }
        assertTrue(n > 100);
    }

    @Test
    void stringTransformsAreCorrect() {
        Map<String, List<Pattern>> patterns = new HashMap<>();
        for (Map.Entry<String, List<String>> op : Templates.STRING.entrySet()) {
            List<Pattern> ps = new ArrayList<>();
            for (String t : op.getValue()) {
                ps.add(Pattern.compile(Pattern.quote(t).replace("{w}", "\\E(?<w>[a-z]+)\\Q")
                        .replace("{c}", "\\E(?<c>[a-z])\\Q")));
            }
            patterns.put(op.getKey(), ps);
        }
        Map<String, Integer> seenOps = new HashMap<>();
        for (Example e : all()) {
            if (!"string".equals(e.meta().get("task"))) {
                continue;
            }
            String op = e.meta().get("op");
            Matcher m = null;
            for (Pattern p : patterns.get(op)) {
                Matcher candidate = p.matcher(e.prompt());
                if (candidate.matches()) {
                    m = candidate;
                    break;
                }
            }
            assertNotNull(m, "no " + op + " template matches " + e.prompt());
            String w = m.group("w");
            String letter = "count".equals(op) ? m.group("c") : "";
            String expected = switch (op) {
                case "reverse" -> new StringBuilder(w).reverse().toString();
                case "sort" -> {
                    char[] cs = w.toCharArray();
                    Arrays.sort(cs);
                    yield new String(cs);
                }
                case "count" -> Long.toString(w.chars().filter(ch -> ch == letter.charAt(0)).count());
                case "length" -> Integer.toString(w.length());
                default -> throw new AssertionError(op);
            };
            assertEquals(expected, e.response(), e.prompt());
            seenOps.merge(op, 1, Integer::sum);
        }
        assertEquals(Set.copyOf(Templates.STRING_OPS), seenOps.keySet());
    }

    @Test
    void textIsShortLowercaseAscii() {
        for (Example e : all()) {
            String task = e.meta().get("task");
            assertTrue(e.prompt().length() <= SyntheticSuite.MAX_PROMPT_CHARS, e.prompt());
            int max = "describe".equals(task) ? SyntheticSuite.MAX_DESCRIBE_CHARS : SyntheticSuite.MAX_RESPONSE_CHARS;
            assertTrue(e.response().length() <= max, e.response());
            assertFalse(e.response().isEmpty(), e.toString());
            assertAsciiLowercase(e.prompt());
            assertAsciiLowercase(e.response());
        }
        for (Example c : suite.corpus()) {
            assertTrue(c.text().length() <= 240, c.text());
            assertAsciiLowercase(c.text());
        }
    }

    @Test
    void generatedWordsAvoidBlockedSequences() {
        for (Entity e : suite.world().entities()) {
            assertTrue(World.acceptable(e.name()), e.name());
        }
        for (Example e : all()) {
            if ("string".equals(e.meta().get("task"))) {
                for (String w : words(e.prompt())) {
                    if (w.length() >= 3 && !Set.of("the", "word", "letter", "letters", "times", "does", "appear",
                            "many", "how", "count", "reverse", "write", "backwards", "spell", "what", "reversed",
                            "sort", "put", "alphabetical", "order", "arrange", "from", "are", "length").contains(w)) {
                        assertTrue(World.acceptable(w), w);
                    }
                }
            }
        }
    }

    @Test
    void describeResponsesVaryAndNameTheirEntity() {
        Set<String> shapes = new HashSet<>();
        int n = 0;
        for (Example e : all()) {
            if (!"describe".equals(e.meta().get("task"))) {
                continue;
            }
            String name = e.meta().get("entity");
            assertTrue(words(e.prompt()).contains(name), e.prompt());
            assertTrue(words(e.response()).contains(name), e.response());
            shapes.add(e.response().replace(name, "#").replaceAll("[a-z0-9]+", "w").length() + ":"
                    + e.response().replace(name, "#").replaceAll("#|[a-z0-9]", ""));
            n++;
        }
        assertTrue(n > 0);
        assertTrue(shapes.size() >= 4, "too little template variety: " + shapes);
    }

    @Test
    void changingTrainSizeKeepsTestSplit() {
        Suite bigger = SyntheticSuite.generate(SETTINGS.withSizes(2500, SETTINGS.validationSize(),
                SETTINGS.testSize(), 10));
        assertEquals(suite.test(), bigger.test());
        assertEquals(suite.validation(), bigger.validation());
    }

    @Test
    void tooSmallWorldOrBadSettingsFailClearly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> SyntheticSuite.generate(SETTINGS.withEntities(10)));
        assertTrue(e.getMessage().contains("raise entities"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new SuiteSettings(1, 80, 4, 10, 10, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> new SuiteSettings(1, 2, 10, 10, 10, 0, 3));
        assertThrows(IllegalArgumentException.class, () -> new SuiteSettings(1, 80, 10, 10, 10, -1, 3));
        assertThrows(IllegalArgumentException.class, () -> new SuiteSettings(1, 80, 10, 10, 10, 0, 0));
    }

    private static void assertAsciiLowercase(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            assertTrue(c >= 0x20 && c < 0x7f && !Character.isUpperCase(c), "not lowercase ASCII: " + s);
        }
    }

    private static List<String> words(String s) {
        return Arrays.asList(s.split("[^a-z0-9]+"));
    }

    private static Set<String> names(World w) {
        Set<String> names = new HashSet<>();
        for (Entity e : w.entities()) {
            names.add(e.name());
        }
        return names;
    }

    private static List<String> listing(Path d) throws IOException {
        try (var s = Files.list(d)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
