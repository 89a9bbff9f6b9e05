package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * VIKDF through the real distribution: the {@code vikdf-embedded} experiment, shortened, from the
 * IQ-Former's pre-training on the image suite's captions (features of the embedded VLM teacher's
 * tower) through the fusion into the small language model and the zero-resource tuning, beside the
 * text-only baseline, to the results table; a caption file with a missing image fails with exit
 * code 2 naming the file and line, before a run directory exists.
 */
class VikdfIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    private Path experiment() {
        return dist.home.resolve("config/experiments/vikdf-embedded.conf");
    }

    @Test
    void vikdfRecipeRunsItsStagesToTheTable() throws Exception {
        Path conf = dist.work.resolve("vikdf.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = vikdf }
                method.params {
                  pretrain { steps = 3 }
                  fusion { steps = 3 }
                  sft { steps = 3 }
                  batch-size = 4
                  checkpoint-every = 2
                  evaluate { limit = 12, max-new-tokens = 4, batch-size = 12 }
                }
                """.formatted(experiment()));
        Distribution.Result r = dist.run(900, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("vikdf"), 1);
        List<JsonObject> events = Events.read(runDir);
        List<JsonObject> steps = Events.ofType(events, "step");
        assertEquals(12, steps.size(), "3 steps in each of iqformer, bvif, vikdf and text-sft");
        for (int[] range : new int[][] {{0, 3}, {3, 6}, {6, 12}}) {
            List<String> want = range[0] == 0 ? List.of("itc", "mim", "mlm")
                    : range[0] == 3 ? List.of("i2t", "t2i") : List.of("ce");
            for (int i = range[0]; i < range[1]; i++) {
                JsonObject terms = steps.get(i).getAsJsonObject("terms");
                assertEquals(want, List.copyOf(terms.keySet()), steps.get(i).toString());
                for (String t : want) {
                    assertTrue(Double.isFinite(terms.get(t).getAsDouble()), steps.get(i).toString());
                }
            }
        }
        assertTrue(Files.exists(runDir.resolve("stages/vikdf/final/iqformer.params")), "the student keeps its IQ-Former");
        assertFalse(Files.exists(runDir.resolve("stages/text-sft/final/iqformer.params")), "the baseline has none");
        for (String student : List.of("vikdf", "text-sft")) {
            JsonObject o = JsonParser.parseString(Files.readString(runDir.resolve("eval/" + student + ".json")))
                    .getAsJsonObject();
            double acc = o.getAsJsonObject("metrics").get("accuracy").getAsDouble();
            assertTrue(acc >= 0 && acc <= 1, o.toString());
            try (Stream<String> lines = Files.lines(runDir.resolve("eval/" + student + ".predictions.jsonl"))) {
                assertEquals(12, lines.count());
            }
        }
        String table = Files.readString(runDir.resolve("results.md"));
        assertTrue(table.contains("| vikdf |") && table.contains("| text-sft |") && table.contains("accuracy.color"),
                table);
    }

    @Test
    void aCaptionWithAMissingImageFailsWithExitTwoBeforeAnythingIsWritten() throws Exception {
        Path captions = dist.work.resolve("captions.jsonl");
        Path image = dist.home.resolve("config/data/vision-suite/images/test/00000.png");
        Files.writeString(captions, "{\"image\": \"" + image + "\", \"prompt\": \"Describe the image.\", "
                + "\"response\": \"a red circle\"}\n"
                + "{\"image\": \"gone.png\", \"prompt\": \"Describe the image.\", \"response\": \"a red circle\"}\n");
        Path conf = dist.work.resolve("bad.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = bad }
                method.params.caption-file = "%s"
                """.formatted(experiment(), captions));
        Distribution.Result r = dist.run(300, "run", conf.toString());
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains("vikdf.iqformer") && r.err().contains(captions + ":2:")
                && r.err().contains("gone.png"), r.err());
        Path out = dist.work.resolve("bad");
        if (Files.exists(out)) {
            try (Stream<Path> s = Files.list(out)) {
                assertTrue(s.findAny().isEmpty(), "no run directory is written");
            }
        }
    }
}
