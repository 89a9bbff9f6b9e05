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
 * The on-policy family end to end through the real distribution: the shipped MiniLLM and GKD
 * experiments on the embedded suite, shrunk to a few steps, each from SFT warm start to the
 * evaluated table.
 */
class OnPolicyIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    /** A small evaluation block shared by both runs (a few test records, ExAccErr at two lengths). */
    private static final String EVALUATE = """
            evaluate {
              limit = 8
              max-new-tokens = 12
              metrics = [
                { key = eval.rouge-l }
                { key = eval.exact-match }
                { key = eval.ece }
                { key = eval.distinct-4 }
                { key = eval.exaccerr, params { lengths = [4, 8], limit = 8 } }
              ]
              columns = [rouge-l, exact-match, ece, distinct-4, "exaccerr@4", "exaccerr@8"]
            }
            """;

    @Test
    void minillmRunsFromSftThroughRolloutsToTheTable() throws Exception {
        Path conf = dist.work.resolve("minillm.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = minillm }
                train { batch-size = 4, max-length = 96, eval-batches = 1, eval-max-new-tokens = 8, checkpoint-every = 0 }
                method.params {
                  sft { steps = 12, eval-every = 6 }
                  minillm {
                    steps = 4
                    eval-every = 4
                    batch-size = 4
                    sampler.params { rollout-size = 8, max-new-tokens = 12, pt-batch-size = 2 }
                  }
                  %s
                }
                """.formatted(dist.home.resolve("config/experiments/minillm-embedded.conf"), EVALUATE));
        Distribution.Result r = dist.run(600, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("minillm"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        assertTrue(results.has("sft") && results.has("minillm") && results.has("evaluate"), results.toString());

        List<JsonObject> steps = Events.ofType(Events.read(runDir), "step").stream()
                .filter(e -> e.get("stage").getAsString().equals("minillm")).toList();
        assertEquals(4, steps.size(), "four MiniLLM steps");
        for (JsonObject s : steps) {
            JsonObject terms = s.getAsJsonObject("terms");
            for (String term : List.of("0:minillm.pg", "1:minillm.single-step", "2:minillm.pt")) {
                assertTrue(terms.has(term), "term " + term + " in " + terms);
                assertTrue(Double.isFinite(terms.get(term).getAsDouble()), term + " finite: " + terms);
            }
        }
        assertTrue(Files.exists(runDir.resolve("stages/minillm/final/model.safetensors")));
        String table = Files.readString(runDir.resolve("results.md"));
        for (String row : List.of("sft", "minillm", "teacher")) {
            assertTrue(table.contains("| " + row), "row " + row + " in\n" + table);
        }
        assertTrue(table.contains("exaccerr@8"), table);
    }

    @Test
    void gkdRunsFromSftThroughOnPolicyBatchesToTheTable() throws Exception {
        Path conf = dist.work.resolve("gkd.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = gkd }
                train { batch-size = 4, max-length = 96, eval-every = 0, checkpoint-every = 0 }
                method.params {
                  sft-steps = 6
                  steps = 6
                  sampler { lambda = 1.0, max-new-tokens = 12 }
                  offline-baseline = false
                  %s
                }
                """.formatted(dist.home.resolve("config/experiments/gkd-embedded.conf"), EVALUATE));
        Distribution.Result r = dist.run(600, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("gkd"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        assertTrue(results.has("sft") && results.has("gkd") && results.has("evaluate"), results.toString());
        List<JsonObject> steps = Events.ofType(Events.read(runDir), "step").stream()
                .filter(e -> e.get("stage").getAsString().equals("gkd")).toList();
        assertEquals(6, steps.size(), "six GKD steps");
        for (JsonObject s : steps) {
            assertTrue(s.getAsJsonObject("terms").has("0:kd.jsd"), s.toString());
            assertTrue(Double.isFinite(s.get("loss").getAsDouble()), s.toString());
        }
        String table = Files.readString(runDir.resolve("results.md"));
        for (String row : List.of("sft", "gkd", "teacher")) {
            assertTrue(table.contains("| " + row), "row " + row + " in\n" + table);
        }
    }
}
