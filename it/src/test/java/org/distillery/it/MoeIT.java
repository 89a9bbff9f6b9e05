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
 * The sparse-to-dense family end to end through the real distribution: the shipped
 * {@code moe-compare} experiment (dense student from random init, every knowledge-aggregation
 * strategy, an SFT student and from it continued SFT, on-policy reverse KL, Knowledge Augmentation
 * and the Student-Aware Router) on the embedded suite, with a tiny random Mixtral teacher made by
 * {@code distill model init}, a few steps per variant and one seed.
 */
class MoeIT {

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
    void aggregationKaAndSarRunToTheTable() throws Exception {
        // 8 experts, top-2, as the embedded MoE teacher: the shipped KA variant raises k' to 7 of 8
        Path teacher = dist.work.resolve("tiny-mixtral");
        Distribution.Result init = dist.run(120, "model", "init", "mixtral", teacher.toString(), "--seed", "7",
                "--set", "hidden_size=32", "--set", "intermediate_size=32", "--set", "num_hidden_layers=2",
                "--set", "num_attention_heads=4", "--set", "num_key_value_heads=2", "--set", "num_local_experts=8",
                "--set", "num_experts_per_tok=2", "--set", "max_position_embeddings=128");
        assertEquals(0, init.exit(), init.all());

        Path conf = dist.work.resolve("moe.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = moe, seeds = [] }
                teacher.params.model-dir = "%s"
                train { steps = 3, batch-size = 4, max-length = 64, warmup-steps = 0, eval-every = 0, checkpoint-every = 2 }
                method.params.evaluate { limit = 4, max-new-tokens = 8 }
                """.formatted(dist.home.resolve("config/experiments/moe-compare.conf"), teacher));
        Distribution.Result r = dist.run(900, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());

        Path runDir = Events.runDir(dist.work.resolve("moe"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        List<String> variants = List.of("dense-kd", "sum-kd", "average-kd", "frequency-kd", "top2-kd", "svd-kd", "sft",
                "sft-more", "rkl-onpolicy", "ka", "sar");
        for (String v : variants) {
            assertTrue(results.has(v), v + " in " + results.keySet());
            assertEquals(3, results.getAsJsonObject(v).get("steps").getAsInt(), v + " steps");
        }
        List<JsonObject> events = Events.read(runDir);
        assertFalse(Events.ofType(events, "moe.router-usage").isEmpty(), "SAR reports router usage");
        for (JsonObject s : Events.ofType(events, "step")) {
            assertTrue(Double.isFinite(s.get("loss").getAsDouble()), "finite loss: " + s);
        }
        String table = Files.readString(runDir.resolve("results.md"));
        for (String v : variants) {
            assertTrue(table.contains("| " + v + " |"), "row " + v + " in\n" + table);
        }
        assertTrue(table.contains("| teacher |"), table);
    }
}
