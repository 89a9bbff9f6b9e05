package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * The surgery family through the real distribution: {@code distill merge} (linear, LM-Cocktail, refusal of
 * mismatched models with exit code 2 and nothing written) and a shortened {@code sdd-compare} (prune the
 * embedded teacher, regenerate part of the training data, recover four ways for a few steps, evaluate).
 */
class SurgeryIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    private Path init(String name, int hidden, int seed) throws Exception {
        Path dir = dist.work.resolve(name);
        Distribution.Result r = dist.run(120, "model", "init", "llama", dir.toString(), "--seed", String.valueOf(seed),
                "--set", "hidden_size=" + hidden, "--set", "num_hidden_layers=2", "--set", "intermediate_size=48");
        assertEquals(0, r.exit(), r.all());
        return dir;
    }

    @Test
    void mergeWritesACompleteFolderAndRefusesMismatchedModels() throws Exception {
        Path a = init("a", 32, 1);
        Path b = init("b", 32, 2);
        Path c = init("c", 32, 4);
        Path wide = init("wide", 64, 3);

        Path out = dist.work.resolve("merged");
        Distribution.Result linear = dist.run(120, "merge", out.toString(), a.toString(), b.toString(),
                "--weights", "0.3,0.7");
        assertEquals(0, linear.exit(), linear.all());
        assertTrue(linear.out().contains("0.3000") && linear.out().contains("0.7000"), linear.out());
        for (String f : List.of("config.json", "model.safetensors", "tokenizer_config.json", "merge.json")) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        Distribution.Result info = dist.run(120, "model", "info", out.toString());
        assertEquals(0, info.exit(), info.all());
        assertTrue(info.out().contains("llama"), info.out());

        Path refused = dist.work.resolve("refused");
        Distribution.Result bad = dist.run(120, "merge", refused.toString(), a.toString(), wide.toString());
        assertEquals(2, bad.exit(), bad.all());
        assertTrue(bad.err().matches("(?s).*model-dir\\[1\\]: tensor '[a-z_.]+' has shape \\[\\d+, 64\\] in .*wide but "
                + "\\[\\d+, 32\\] in .*a .*"), bad.err());
        assertFalse(Files.exists(refused), "nothing written");
        try (var files = Files.list(dist.work)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().startsWith(".refused")), "no staging left");
        }

        Path cocktail = dist.work.resolve("cocktail");
        Distribution.Result mixed = dist.run(180, "merge", cocktail.toString(), a.toString(), b.toString(), c.toString(),
                "--method", "cocktail", "--examples", dist.home.resolve("config/data/suite/validation.jsonl").toString(),
                "--set", "examples-tasks=[arith]", "--set", "alpha=0.6");
        assertEquals(0, mixed.exit(), mixed.all());
        assertTrue(mixed.out().contains("merge.cocktail") && mixed.out().contains("losses:")
                && mixed.out().contains("0.6000"), mixed.out());
    }

    @Test
    void aShortenedSddRecipeRunsToTheTable() throws Exception {
        Path conf = dist.work.resolve("sdd.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = sdd }
                train { steps = 3, batch-size = 4, eval-every = 0 }
                method.params {
                  prune { calibration-records = 8 }
                  regenerate { limit = 12, max-new-tokens = 8 }
                  evaluate { limit = 4, max-new-tokens = 8 }
                }
                """.formatted(dist.home.resolve("config/experiments/sdd-compare.conf")));
        Distribution.Result r = dist.run(900, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("sdd"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        assertEquals(List.of("pruned", "regenerate", "sdd", "sft", "kd", "dynamic-kd", "evaluate"),
                List.copyOf(results.keySet()));
        assertEquals(3, results.getAsJsonObject("pruned").getAsJsonObject("metrics").get("layers.after").getAsInt());
        assertEquals(12, results.getAsJsonObject("regenerate").getAsJsonObject("metrics").get("records").getAsInt());
        assertTrue(Files.isRegularFile(runDir.resolve("stages/regenerate/data.jsonl")));
        assertTrue(Files.isRegularFile(runDir.resolve("stages/pruned/model/prune.json")));
        String table = Files.readString(runDir.resolve("results.md"));
        for (String row : List.of("teacher", "pruned", "sdd", "sft", "kd", "dynamic-kd")) {
            assertTrue(table.contains("| " + row + " |"), row + " in\n" + table);
        }
    }
}
