package org.distillery.kernel.config;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.junit.jupiter.api.Test;

class ConfigValidatorTest {

    private static final Map<String, Config> LOSSES = Map.of(
            "kd.forward-kl", ConfigFactory.parseString("temperature = 1.0, chunk-size = 64"),
            "kd.hidden", ConfigFactory.parseString("layers = [], metric = mse"));

    private static ConfigValidator validator() {
        return new ConfigValidator((kind, key) -> switch (kind) {
            case LOSS -> Optional.ofNullable(LOSSES.get(key));
            case TEACHER -> key.equals("teacher.local") ? Optional.of(ConfigFactory.parseString("model-dir = \"\""))
                    : Optional.empty();
            case SAMPLER -> key.equals("data.dataset") ? Optional.of(ConfigFactory.empty()) : Optional.empty();
            case METHOD -> key.equals("kd.single") ? Optional.of(ConfigFactory.empty()) : Optional.empty();
            default -> Optional.empty();
        }, kind -> kind == ContributionKind.LOSS ? LOSSES.keySet().stream().sorted().toList() : List.of());
    }

    private static List<String> problems(String experiment) {
        Config c = new ExperimentLoader(Path.of(".")).resolve(ConfigFactory.parseString(experiment));
        ExperimentException e = assertThrows(ExperimentException.class,
                () -> validator().validate(c, ConfigValidator.experimentDefaults()));
        return e.problems();
    }

    @Test
    void defaultsAreValid() {
        Config c = new ExperimentLoader(Path.of(".")).resolve(ConfigFactory.empty());
        assertDoesNotThrow(() -> validator().validate(c, ConfigValidator.experimentDefaults()));
    }

    @Test
    void unknownKeySuggestsTheClosest() {
        List<String> p = problems("train.lr-warmup = 3\ntrain.stpes = 4");
        assertEquals(2, p.size(), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("train.stpes: unknown key") && s.contains("did you mean steps?")),
                p.toString());
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        List<String> p = problems("""
                train.steps = many
                train.loss = [ { key = kd.forward-kl, params { temperature = [1] } }, { key = kd.nope } ]
                teacher.params.modeldir = x
                """);
        assertEquals(4, p.size(), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("train.steps: wrong type")), p.toString());
        assertTrue(p.stream().anyMatch(s -> s.startsWith("teacher.params.modeldir: unknown key")), p.toString());
    }

    @Test
    void contributionParamsAreCheckedAgainstTheirOwnDefaults() {
        List<String> p = problems("train.loss = [ { key = kd.hidden, weight = 0.5, params { layers = 3 } } ]");
        assertEquals(List.of("train.loss[0].params.layers: wrong type number (got 3; accepted: a list)"),
                p.stream().map(s -> s.replaceAll(" \\[.*\\]$", "")).toList());
    }

    @Test
    void numbersAndBooleansMayBeWrittenAsStrings() {
        Config c = new ExperimentLoader(Path.of(".")).resolve(ConfigFactory.parseString(
                "train.steps = \"12\"\ntrain.select-best = \"no\"\nexperiment.name = 5"));
        assertDoesNotThrow(() -> validator().validate(c, ConfigValidator.experimentDefaults()));
    }

    @Test
    void freeFormStudentConfigIsNotCheckedHere() {
        Config c = new ExperimentLoader(Path.of(".")).resolve(ConfigFactory.parseString(
                "student.config { anything_goes = 1, n_layer = 2 }"));
        assertDoesNotThrow(() -> validator().validate(c, ConfigValidator.experimentDefaults()));
    }

    @Test
    void overridesParseAsHoconOrFallBackToStrings() {
        Config o = ExperimentLoader.parseOverrides(List.of("train.steps=5", "teacher.params.model-dir=/a//b",
                "train.loss=[{key=kd.hidden}]"));
        assertEquals(5, o.getInt("train.steps"));
        assertEquals("/a//b", o.getString("teacher.params.model-dir"));
        assertEquals("kd.hidden", o.getConfigList("train.loss").get(0).getString("key"));
        ExperimentException e = assertThrows(ExperimentException.class,
                () -> ExperimentLoader.parseOverrides(List.of("train.steps")));
        assertTrue(e.getMessage().contains("expected path=value"));
    }

    @Test
    void suggestionsNeedToBeClose() {
        assertEquals(Optional.of("kd.forward-kl"), Suggestions.closest("kd.forwrd-kl", List.of("kd.forward-kl", "kd.jsd")));
        assertEquals(Optional.empty(), Suggestions.closest("zzz", List.of("kd.forward-kl", "kd.jsd")));
    }
}
