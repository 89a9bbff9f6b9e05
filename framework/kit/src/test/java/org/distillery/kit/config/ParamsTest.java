package org.distillery.kit.config;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;
import java.util.function.Function;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.junit.jupiter.api.Test;

import org.distillery.api.ContributionRef;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.LossSpec;

/**
 * {@link Params}: every check accepts what it should and refuses the rest with the exact config
 * path, the value as written and what is accepted, all three in the message.
 */
class ParamsTest {

    private static final String PATH = "train.loss[0].params";

    /** A choice written in lowercase with '-' for '_'. */
    enum Metric { MSE, COSINE_SIMILARITY }

    private static Params params(String hocon) {
        return Params.of(ConfigFactory.parseString(hocon), PATH);
    }

    /** Asserts that {@code read} refuses {@code hocon} at {@code PATH.key} with this problem, value and accepted. */
    private static void assertRefused(String hocon, Function<Params, ?> read, String key, String problem, String value,
                                      String accepted) {
        assertRefused(params(hocon), read, PATH + "." + key, problem, value, accepted);
    }

    private static void assertRefused(Params p, Function<Params, ?> read, String path, String problem, String value,
                                      String accepted) {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> read.apply(p),
                () -> "expected a refusal at " + path);
        String message = e.getMessage();
        assertAll(path,
            () -> assertEquals(path, e.path(), message),
            () -> assertEquals(value, e.value(), message),
            () -> assertEquals(accepted, e.accepted(), message),
            () -> assertTrue(message.startsWith(path + ": " + problem), message),
            () -> assertTrue(value == null || message.contains("got " + value), message),
            () -> assertTrue(accepted == null || message.contains("accepted: " + accepted), message));
    }

    @Test
    void positive() {
        assertEquals(0.5, params("t = 0.5").positive("t"));
        assertEquals(1e-12, params("t = 1e-12").positive("t"));
        assertRefused("t = 0", p -> p.positive("t"), "t", "must be a positive number", "0.0", "> 0");
        assertRefused("t = -1", p -> p.positive("t"), "t", "must be a positive number", "-1.0", "> 0");
    }

    @Test
    void nonNegative() {
        assertEquals(0.0, params("t = 0").nonNegative("t"));
        assertEquals(3.5, params("t = 3.5").nonNegative("t"));
        assertRefused("t = -0.5", p -> p.nonNegative("t"), "t", "must not be negative", "-0.5", ">= 0");
    }

    @Test
    void probability() {
        for (String ok : new String[] {"0", "1", "0.25"}) {
            assertEquals(Double.parseDouble(ok), params("p = " + ok).probability("p"));
        }
        assertRefused("p = -0.1", p -> p.probability("p"), "p", "out of range", "-0.1", "[0.0, 1.0]");
        assertRefused("p = 1.01", p -> p.probability("p"), "p", "out of range", "1.01", "[0.0, 1.0]");
    }

    @Test
    void fraction() {
        assertEquals(0.0, params("f = 0").fraction("f"));
        assertEquals(0.999, params("f = 0.999").fraction("f"));
        assertRefused("f = 1", p -> p.fraction("f"), "f", "out of range", "1.0", "[0, 1)");
        assertRefused("f = -0.01", p -> p.fraction("f"), "f", "out of range", "-0.01", "[0, 1)");
    }

    @Test
    void numbersAndRanges() {
        assertEquals(-1.0, params("x = -1").number("x", -1, 2), "the lower bound is accepted");
        assertEquals(2.0, params("x = 2").number("x", -1, 2), "the upper bound is accepted");
        assertEquals(1.5, params("x = \"1.5\"").number("x"), "a number written as a string");
        assertRefused("x = 2.5", p -> p.number("x", -1, 2), "x", "out of range", "2.5", "[-1.0, 2.0]");
        assertRefused("x = -1.5", p -> p.number("x", -1, 2), "x", "out of range", "-1.5", "[-1.0, 2.0]");
        assertRefused("x = abc", p -> p.number("x"), "x", "wrong type", "\"abc\"", "a number");
        assertRefused("x = [1]", p -> p.positive("x"), "x", "wrong type", "[1]", "a number");
        assertRefused("y = 1", p -> p.number("x"), "x", "is missing", null, "a number");
        for (double bad : new double[] {Double.NaN, Double.POSITIVE_INFINITY}) {
            Params p = Params.of(ConfigFactory.parseMap(Map.of("x", bad)), PATH);
            assertRefused(p, q -> q.positive("x"), PATH + ".x", "must be finite", String.valueOf(bad), "a finite number");
        }
    }

    @Test
    void integers() {
        assertEquals(4, params("n = 4").integer("n", 1));
        assertEquals(1, params("n = 1").integer("n", 1), "the minimum is accepted");
        assertEquals(12, params("n = \"12\"").integer("n", 0), "an integer written as a string");
        assertEquals(2, params("n = 2.0").integer("n", 0), "a whole number written with a point");
        assertRefused("n = 0", p -> p.integer("n", 1), "n", "too small", "0", ">= 1");
        assertRefused("n = 1.5", p -> p.integer("n", 1), "n", "must be a whole number", "1.5", "an integer");
        assertRefused("n = \"2.5\"", p -> p.integer("n", 1), "n", "must be a whole number", "\"2.5\"", "an integer");
        assertRefused("n = 3e9", p -> p.integer("n", 1), "n", "too large", "3000000000", "<= 2147483647");
        assertRefused("n = many", p -> p.integer("n", 1), "n", "wrong type", "\"many\"", "an integer");
        assertRefused("m = 1", p -> p.integer("n", 1), "n", "is missing", null, "an integer");

        assertEquals(3_000_000_000L, params("n = 3000000000").longInteger("n", 0));
        assertEquals(-5L, params("n = -5").longInteger("n", -5));
        assertRefused("n = -6", p -> p.longInteger("n", -5), "n", "too small", "-6", ">= -5");
        assertRefused("n = 1e30", p -> p.longInteger("n", 0), "n", "must be a whole number", "1.0E30", "an integer");
        assertRefused("n = 0.5", p -> p.longInteger("n", 0), "n", "must be a whole number", "0.5", "an integer");
    }

    @Test
    void choicesOfStringsAndEnums() {
        assertEquals("cosine", params("m = cosine").choice("m", "mse", "cosine"));
        assertRefused("m = l1", p -> p.choice("m", "mse", "cosine"), "m", "unknown choice", "l1", "mse, cosine");

        assertEquals(Metric.COSINE_SIMILARITY, params("m = cosine-similarity").choice("m", Metric.class));
        assertEquals(Metric.MSE, params("m = mse").choice("m", Metric.class));
        assertRefused("m = cosine_similarity", p -> p.choice("m", Metric.class), "m", "unknown choice",
                "cosine_similarity", "mse, cosine-similarity");
        assertRefused("m = MSE", p -> p.choice("m", Metric.class), "m", "unknown choice", "MSE",
                "mse, cosine-similarity");
        assertEquals("cosine-similarity", Params.name(Metric.COSINE_SIMILARITY));
    }

    @Test
    void booleansAndStrings() {
        assertTrue(params("b = true").bool("b"));
        assertFalse(params("b = off").bool("b"));
        assertRefused("b = 3", p -> p.bool("b"), "b", "wrong type", "3", "true or false");
        assertEquals("x", params("s = x").string("s"));
        assertRefused("s { a = 1 }", p -> p.string("s"), "s", "wrong type", "{\"a\":1}", "a string");

        assertEquals(List.of("a", "b c"), params("s = [a, \"b c\"]").strings("s"));
        assertEquals(List.of(), params("s = []").strings("s"));
        assertRefused("s = a", p -> p.strings("s"), "s", "wrong type", "\"a\"", "a list of strings");
        assertRefused("s = [{a = 1}]", p -> p.strings("s"), "s", "wrong type", "[{\"a\":1}]", "a list of strings");
    }

    @Test
    void templates() {
        String ok = "Q: {question}\nA: {answer}";
        assertEquals(ok, Params.of(ConfigFactory.parseMap(Map.of("t", ok)), PATH).template("t", "question", "answer"));
        assertRefused("t = \"Q: {question}\"", p -> p.template("t", "question", "answer"), "t",
                "must contain {answer}", "\"Q: {question}\"", "a template with {question}, {answer}");
        String longTemplate = "Write a long story about {topic}\nin the style of a very old newspaper, please";
        assertRefused(Params.of(ConfigFactory.parseMap(Map.of("t", longTemplate)), PATH),
                p -> p.template("t", "topic", "style"), PATH + ".t", "must contain {style}",
                "\"Write a long story about {topic}\\nin the style of a very o...\"",
                "a template with {topic}, {style}");
        assertEquals("\"a\\nb\"", Params.quote("a\nb"));
        assertEquals(62, Params.quote("x".repeat(100)).length(), "57 characters, '...' and two quotes");
    }

    @Test
    void childrenAndPaths() {
        Params p = params("sampler { key = a.b, params { file = x } }, n = 3");
        assertEquals(PATH, p.path());
        assertEquals(PATH + ".n", p.at("n"));
        assertTrue(p.has("n"));
        assertFalse(p.has("m"));
        assertEquals(3, p.config().getInt("n"));
        Params child = p.child("sampler");
        assertEquals(PATH + ".sampler", child.path());
        assertEquals(PATH + ".sampler.params.file", child.child("params").at("file"));
        assertEquals("x", child.child("params").string("file"));
        assertRefused(p, q -> q.child("n"), PATH + ".n", "wrong type", "3", "an object");
        assertRefused(p, q -> q.child("missing"), PATH + ".missing", "is missing", null, "an object");
        assertRefused(p, q -> q.child("sampler").child("params").positive("file"), PATH + ".sampler.params.file",
                "wrong type", "\"x\"", "a number");

        Params top = Params.of(ConfigFactory.parseString("n = 1"), null);
        assertEquals("", top.path());
        assertEquals("n", top.at("n"));
        assertRefused(top, q -> q.positive("m"), "m", "is missing", null, "a number");
    }

    @Test
    void allowOnly() {
        Params p = params("a = 1, b = 2");
        assertSame(p, p.allowOnly("a", "b", "c"));
        assertRefused("a = 1, b = 2, c = 3", q -> q.allowOnly("a", "b"), "c", "unknown key", null, "a, b");
    }

    @Test
    void lossTerms() {
        List<LossSpec> terms = params("loss = [{key = kd.sft}, {key = kd.forward-kl, weight = 0.5, "
                + "params { temperature = 2 }}]").losses("loss");
        assertEquals(2, terms.size());
        assertEquals("kd.sft", terms.get(0).key());
        assertEquals(1.0, terms.get(0).weight(), "weight 1 by default");
        assertTrue(terms.get(0).params().isEmpty());
        assertEquals("kd.forward-kl", terms.get(1).key());
        assertEquals(0.5, terms.get(1).weight());
        assertEquals(2, terms.get(1).params().getInt("temperature"));
        assertEquals(List.of(), params("loss = []").losses("loss"), "no terms is allowed");

        assertRefused("loss = [{key = a.b, wieght = 2}]", p -> p.losses("loss"), "loss[0].wieght", "unknown key", null,
                "key, weight, params");
        assertRefused("loss = [{key = a.b}, {weight = 1}]", p -> p.losses("loss"), "loss[1].key", "is missing", null,
                "a registered loss key");
        assertRefused("loss = [{key = \"\"}]", p -> p.losses("loss"), "loss[0].key", "is missing", null,
                "a registered loss key");
        assertRefused("loss = [{key = a.b}, {key = a.c, weight = heavy}]", p -> p.losses("loss"), "loss[1].weight",
                "wrong type", "\"heavy\"", "a number");
        assertRefused("loss = [{key = a.b, params = 3}]", p -> p.losses("loss"), "loss[0].params", "wrong type", "3",
                "an object");
        assertRefused("loss = kd.sft", p -> p.losses("loss"), "loss", "wrong type", "\"kd.sft\"",
                "a list of {key, weight, params}");
        assertRefused("loss = [kd.sft]", p -> p.losses("loss"), "loss", "wrong type", "[\"kd.sft\"]",
                "a list of {key, weight, params}");
    }

    @Test
    void contributionNodes() {
        ContributionRef ref = params("sampler { key = data.dataset, params { file = x.jsonl } }").contribution("sampler");
        assertEquals("data.dataset", ref.key());
        assertEquals("x.jsonl", ref.params().getString("file"));
        ContributionRef bare = params("sampler { key = data.dataset }").contribution("sampler");
        assertTrue(bare.params().isEmpty());
        assertRefused("sampler { key = a.b, parms { } }", p -> p.contribution("sampler"), "sampler.parms",
                "unknown key", null, "key, params");
        assertRefused("sampler { params { } }", p -> p.contribution("sampler"), "sampler.key", "is missing", null,
                "a registered key");
        assertRefused("sampler = data.dataset", p -> p.contribution("sampler"), "sampler", "wrong type",
                "\"data.dataset\"", "an object");
        assertRefused("sampler { key = a.b, params = 1 }", p -> p.contribution("sampler"), "sampler.params",
                "wrong type", "1", "an object");
    }

    @Test
    void checkKnownAcceptsTheDefaultsShapes() {
        Config defaults = ConfigFactory.parseString("temperature = 1.0, name = x, layers = [1, 2], extra = null, "
                + "sampler { key = a.b, params { } }, nested { inner { depth = 2 } }");
        Config actual = ConfigFactory.parseString("temperature = \"2.5\", name = 5, layers = [3], "
                + "extra { anything = 1 }, sampler { key = c.d, params { whatever = 1 } }, nested { inner { depth = 3 } }");
        Params.checkKnown(actual.root(), defaults.root(), "kd");
        Params.checkKnown(ConfigFactory.empty().root(), defaults.root(), "kd");
    }

    @Test
    void checkKnownRefusesUnknownKeysAndWrongTypesNested() {
        Config defaults = ConfigFactory.parseString("temperature = 1.0, name = x, layers = [1, 2], flag = true, "
                + "nested { inner { depth = 2 } }");
        String keys = "flag, layers, name, nested, temperature";
        assertCheckRefused("temprature = 2", defaults, "kd.temprature", "unknown key", "2", keys);
        assertCheckRefused("temperature = [1]", defaults, "kd.temperature", "wrong type", "[1]", "number");
        assertCheckRefused("temperature = true", defaults, "kd.temperature", "wrong type", "true", "number");
        assertCheckRefused("flag = 1", defaults, "kd.flag", "wrong type", "1", "boolean");
        assertCheckRefused("layers = 3", defaults, "kd.layers", "wrong type", "3", "list");
        assertCheckRefused("name { a = 1 }", defaults, "kd.name", "wrong type", "{\"a\":1}", "string");
        assertCheckRefused("nested { inner { dpeth = 2 } }", defaults, "kd.nested.inner.dpeth", "unknown key", "2",
                "depth");
        assertCheckRefused("nested { inner = 3 }", defaults, "kd.nested.inner", "wrong type", "3", "object");
        assertCheckRefused("nested { inner { depth = [2] } }", defaults, "kd.nested.inner.depth", "wrong type", "[2]",
                "number");

        InvalidConfigException top = assertThrows(InvalidConfigException.class,
                () -> Params.checkKnown(ConfigFactory.parseString("x = 1").root(), defaults.root(), ""));
        assertEquals("x", top.path(), "no prefix at the top");
    }

    private static void assertCheckRefused(String actual, Config defaults, String path, String problem, String value,
                                           String accepted) {
        Params p = Params.of(ConfigFactory.parseString(actual), "kd");
        assertRefused(p, q -> {
            Params.checkKnown(q.config().root(), defaults.root(), q.path());
            return null;
        }, path, problem, value, accepted);
    }
}
