package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The RL + KD family end to end through the real distribution: the shipped {@code rlkd-compare}
 * experiment (every arm: SFT on answers, teacher traces by rejection sampling, SFT on them, GRPO, KD,
 * KDRL with k2, k3 and reward-guided masking, LLMR, AI feedback, dDPO with and without dSFT) shortened
 * to a few steps and prompts, then {@code distill compare} over it; the reasoning suite from
 * {@code distill data synth}; and a misspelt reward refused before anything runs.
 */
class RlkdIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    @Test
    void theShortenedComparisonRunsEveryArmToTheTable() throws Exception {
        Distribution.Result r = dist.run(900, "run", "rlkd-compare",
                "--set", "experiment.progress=lines",
                "--set", "experiment.output-dir=rlkd",
                "--set", "method.params.train-overrides.steps=2",
                "--set", "method.params.data-overrides.prompts=16",
                "--set", "method.params.data-overrides.max-new-tokens=96",
                "--set", "method.params.evaluate.limit=12",
                "--set", "method.params.evaluate.max-new-tokens=96");
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("rlkd"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        List<String> arms = List.of("sft-answers", "sft-traces", "grpo", "kd-rkl", "kdrl-k2", "kdrl-k3", "kdrl-masked",
                "llmr", "ddpo", "ddpo-no-dsft");
        for (String stage : arms) {
            assertTrue(results.has(stage), stage + " in " + results);
        }
        assertTrue(results.has("traces") && results.has("aif") && results.has("evaluate"), results.toString());

        List<JsonObject> events = Events.read(runDir);
        List<JsonObject> steps = Events.ofType(events, "step");
        for (String stage : List.of("kdrl-k2", "kdrl-masked")) {
            List<JsonObject> own = steps.stream().filter(e -> e.get("stage").getAsString().equals(stage)).toList();
            assertEquals(2, own.size(), stage);
            for (JsonObject s : own) {
                JsonObject terms = s.getAsJsonObject("terms");
                assertTrue(terms.has("0:rl.grpo") && terms.has("1:rl.kl"), "each term separately: " + terms);
                JsonObject figures = s.getAsJsonObject("sampler");
                for (String f : List.of("reward", "accuracy", "response-length", "teacher-kl")) {
                    assertTrue(figures.has(f), f + " per step in " + s);
                }
            }
        }
        assertTrue(Events.ofType(events, "rl-rollout").size() >= 12, "one rollout round per on-policy step");
        JsonObject traces = JsonParser.parseString(Files.readString(runDir.resolve("stages/traces/provenance.json")))
                .getAsJsonObject();
        assertEquals(16, traces.get("prompts").getAsInt());
        assertTrue(traces.get("records").getAsInt() > 0, "the teacher writes correct traces: " + traces);
        JsonObject aif = JsonParser.parseString(Files.readString(runDir.resolve("stages/aif/provenance.json")))
                .getAsJsonObject();
        assertEquals(16, aif.get("prompts").getAsInt());
        assertTrue(Files.size(runDir.resolve("stages/aif/data.jsonl")) > 0);

        String table = Files.readString(runDir.resolve("results.md"));
        for (String row : arms) {
            assertTrue(table.contains("| " + row + " |"), "row " + row + " in\n" + table);
        }
        assertTrue(table.contains("| teacher |") && table.contains("id.accuracy"), table);

        Distribution.Result compared = dist.run(120, "compare", runDir.toString(), "--metrics",
                "id.accuracy,response-length");
        assertEquals(0, compared.exit(), compared.all());
        assertTrue(compared.out().contains("kdrl-masked") && compared.out().contains("id.accuracy"), compared.all());
    }

    @Test
    void theZephyrAndR1RecipesRunThroughTheirStages() throws Exception {
        Path zephyr = dist.work.resolve("zephyr.conf");
        Files.writeString(zephyr, """
                include file("%s")
                experiment { progress = lines, output-dir = zephyr }
                train { batch-size = 8, max-length = 128 }
                method {
                  key = dpo.zephyr
                  params {
                    dsft { steps = 3 }
                    aif { prompts = 8, completions = 2, max-new-tokens = 96 }
                    ddpo { steps = 2 }
                    evaluate { limit = 8, max-new-tokens = 96, metrics = [ { key = rl.accuracy } ], columns = [accuracy] }
                  }
                }
                """.formatted(dist.home.resolve("config/fragments/reasoning.conf")));
        Distribution.Result r = dist.run(600, "run", zephyr.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("zephyr"), 1);
        String table = Files.readString(runDir.resolve("results.md"));
        assertTrue(table.contains("| dsft |") && table.contains("| ddpo |") && table.contains("| teacher |"), table);
        assertTrue(Files.exists(runDir.resolve("stages/aif/data.jsonl")));

        Path r1 = dist.work.resolve("r1.conf");
        Files.writeString(r1, """
                include file("%s")
                experiment { progress = lines, output-dir = r1 }
                train { batch-size = 8, max-length = 128 }
                method {
                  key = rl.r1
                  params {
                    traces { prompts = 8, tries = 2, max-new-tokens = 96 }
                    sft { steps = 3 }
                    evaluate { limit = 8, max-new-tokens = 96, metrics = [ { key = rl.accuracy } ], columns = [accuracy] }
                  }
                }
                """.formatted(dist.home.resolve("config/fragments/reasoning.conf")));
        r = dist.run(600, "run", r1.toString());
        assertEquals(0, r.exit(), r.all());
        runDir = Events.runDir(dist.work.resolve("r1"), 1);
        JsonObject prov = JsonParser.parseString(Files.readString(runDir.resolve("stages/traces/provenance.json")))
                .getAsJsonObject();
        assertEquals(8, prov.get("prompts").getAsInt());
        assertTrue(Files.readString(runDir.resolve("results.md")).contains("| sft |"));
    }

    @Test
    void theReasoningSuiteIsWrittenByDataSynth() throws Exception {
        Path out = dist.work.resolve("reasoning");
        Distribution.Result r = dist.run(120, "data", "synth", "--suite", "reasoning", "--train", "30",
                "--validation", "6", "--test", "6", "--ood", "6", out.toString());
        assertEquals(0, r.exit(), r.all());
        for (String f : List.of("train.jsonl", "train-answers.jsonl", "validation.jsonl", "test.jsonl", "suite.json")) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
        assertTrue(Files.readString(out.resolve("test.jsonl")).contains("reasoning-ood"));
        Distribution.Result bad = dist.run(120, "data", "synth", "--suite", "reasoning", "--max-digits", "5",
                out.toString());
        assertEquals(2, bad.exit(), bad.all());
        assertTrue(bad.err().contains("ood-digits"), bad.all());
    }

    @Test
    void aMisspeltRewardIsRefusedWithItsPath() throws Exception {
        Path conf = dist.work.resolve("bad.conf");
        Files.writeString(conf, """
                include file("%s")
                method { key = kd.single, params {} }
                train {
                  steps = 2
                  loss = [ { key = rl.grpo } ]
                  sampler { key = rl.grpo, params { rewards = [ { key = reward.exact-anwser } ] } }
                }
                """.formatted(dist.home.resolve("config/fragments/reasoning.conf")));
        Distribution.Result r = dist.run(120, "run", conf.toString());
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("train.sampler.params.rewards[0].key: no registered rewards named 'reward.exact-anwser'"),
                r.all());
    }
}
