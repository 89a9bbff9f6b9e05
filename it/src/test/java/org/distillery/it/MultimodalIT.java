package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
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
 * The multimodal family through the real distribution: the llava-kd recipe, shortened, from the
 * composed student through DPT, SFT and DFT to the results table against the embedded VLM teacher;
 * the model commands with images; the synthetic image suite; and bad image input failing with
 * exit code 2, naming the file and line, before anything is written.
 */
class MultimodalIT {

    private Distribution dist;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void removeCopy() throws Exception {
        dist.close();
    }

    private Path teacher() {
        return dist.home.resolve("config/models/vlm-teacher");
    }

    private Path image(int i) {
        return dist.home.resolve(String.format("config/data/vision-suite/images/test/%05d.png", i));
    }

    @Test
    void llavaKdRecipeRunsDptSftDftToTheTable() throws Exception {
        Path conf = dist.work.resolve("llava-kd.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = llava-kd }
                train { batch-size = 4, checkpoint-every = 0 }
                method.params {
                  dpt { steps = 4 }
                  sft { steps = 4 }
                  dft { steps = 4 }
                  evaluate { limit = 12, max-new-tokens = 8, batch-size = 12 }
                }
                """.formatted(dist.home.resolve("config/experiments/llava-kd-embedded.conf")));
        Distribution.Result r = dist.run(900, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("llava-kd"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        for (String stage : List.of("llava-kd.dpt", "llava-kd.sft", "llava-kd", "evaluate")) {
            assertTrue(results.has(stage), stage + " in " + results);
        }
        List<JsonObject> events = Events.read(runDir);
        JsonObject frozen = Events.ofType(events, "frozen").get(0);
        assertEquals("llava-kd.dpt", frozen.get("stage").getAsString());
        assertTrue(frozen.get("trainable").toString().contains("model.multi_modal_projector."), frozen.toString());
        assertTrue(!Events.ofType(events, "mm.compose").isEmpty(), "the student is composed");
        List<JsonObject> dft = Events.ofType(events, "step").stream()
                .filter(e -> e.get("stage").getAsString().equals("llava-kd")).toList();
        assertEquals(4, dft.size());
        for (String term : List.of("0:kd.sft", "1:mm.response-kl", "2:mm.visual-kl", "3:mm.relation")) {
            double v = dft.get(3).getAsJsonObject("terms").get(term).getAsDouble();
            assertTrue(Double.isFinite(v), term + " " + dft.get(3));
        }
        String table = Files.readString(runDir.resolve("results.md"));
        assertTrue(table.contains("| teacher |") && table.contains("| llava-kd |"), table);
        for (String column : List.of("accuracy", "accuracy.count", "accuracy.spatial", "accuracy.digit",
                "caption/rouge-l", "lm-loss")) {
            assertTrue(table.contains(column), column + " in\n" + table);
        }
    }

    @Test
    void modelCommandsTakeImages() throws Exception {
        Distribution.Result info = dist.run(120, "model", "info", teacher().toString());
        assertEquals(0, info.exit(), info.all());
        assertTrue(info.out().contains("vision tower   siglip_vision_model") && info.out().contains("36 image tokens")
                && info.out().contains("projector"), info.out());
        Distribution.Result gen = dist.run(120, "model", "generate", teacher().toString(), "--image",
                image(0).toString(), "--prompt", "Describe the image.", "--max-new-tokens", "48");
        assertEquals(0, gen.exit(), gen.all());
        assertTrue(gen.out().startsWith("Describe the image."), gen.out());
        Distribution.Result score = dist.run(120, "model", "score", teacher().toString(), "--image",
                image(0).toString(), "--text", "<image>\nDescribe the image.\n");
        assertEquals(0, score.exit(), score.all());
        JsonObject s = JsonParser.parseString(score.out()).getAsJsonObject();
        assertTrue(s.has("image") && s.getAsJsonArray("tokens").size() > 36, score.out());
    }

    @Test
    void badImageInputFailsWithExitTwoNamingTheFileBeforeAnythingIsWritten() throws Exception {
        Path data = dist.work.resolve("bad.jsonl");
        Files.writeString(data, "{\"image\": \"" + image(0) + "\", \"prompt\": \"What shape?\", \"response\": \"x\"}\n"
                + "{\"image\": \"missing.png\", \"prompt\": \"What shape?\", \"response\": \"x\"}\n");
        Path conf = dist.work.resolve("bad.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { progress = lines, output-dir = bad }
                method.params.instruction-file = "%s"
                """.formatted(dist.home.resolve("config/experiments/llava-kd-embedded.conf"), data));
        Distribution.Result r = dist.run(300, "run", conf.toString());
        assertEquals(2, r.exit(), r.all());
        assertTrue(r.err().contains(data + ":2:") && r.err().contains("missing.png") && r.err().contains("no such file"),
                r.err());
        assertTrue(!Files.exists(dist.work.resolve("bad")) || isEmpty(dist.work.resolve("bad")),
                "no run directory is written");

        Distribution.Result count = dist.run(120, "model", "score", teacher().toString(), "--image",
                image(0).toString(), "--ids", "257,259,259,259,10");
        assertEquals(2, count.exit(), count.all());
        assertTrue(count.err().contains("hold 3 image tokens") && count.err().contains(image(0).toString())
                && count.err().contains("36"), count.err());
        Distribution.Result missing = dist.run(120, "model", "score", teacher().toString(), "--image",
                dist.work.resolve("nope.png").toString(), "--text", "hello");
        assertEquals(2, missing.exit(), missing.all());
        assertTrue(missing.err().contains("nope.png") && missing.err().contains("no such file"), missing.err());
        Path corrupt = dist.work.resolve("corrupt.png");
        Files.writeString(corrupt, "not a png");
        Distribution.Result unreadable = dist.run(120, "model", "generate", teacher().toString(), "--image",
                corrupt.toString(), "--prompt", "Describe the image.");
        assertEquals(2, unreadable.exit(), unreadable.all());
        assertTrue(unreadable.err().contains("corrupt.png") && unreadable.err().contains("PNG or JPEG"), unreadable.err());
    }

    @Test
    void synthVisionWritesTheSuite() throws Exception {
        Path out = dist.work.resolve("suite");
        Distribution.Result r = dist.run(120, "data", "synth-vision", out.toString(), "--train", "6", "--validation", "2",
                "--test", "2", "--corpus", "3");
        assertEquals(0, r.exit(), r.all());
        for (String f : List.of("captions-train.jsonl", "qa-train.jsonl", "qa-text-train.jsonl", "test.jsonl",
                "corpus.jsonl", "suite.json", "images/train/00005.png")) {
            assertTrue(Files.exists(out.resolve(f)), f);
        }
    }

    private static boolean isEmpty(Path dir) throws Exception {
        try (Stream<Path> s = Files.list(dir)) {
            return s.findAny().isEmpty();
        }
    }
}
