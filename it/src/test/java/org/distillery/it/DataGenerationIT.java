package org.distillery.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Data distillation end to end through the real distribution: {@code distill serve} serves the
 * embedded teacher on a free loopback port, and {@code distill run data-targeted} (shrunk) writes a
 * dataset through the OpenAI-compatible client, trains a student on it and evaluates it; and a
 * student trains by forward KL on the served teacher's top-k log-probabilities ({@code teacher.remote},
 * gray-box distillation).
 */
class DataGenerationIT {

    private static final Pattern PORT = Pattern.compile("port (\\d+)");

    private Distribution dist;
    private Process server;

    @BeforeEach
    void copyDistribution() throws Exception {
        dist = Distribution.copy();
    }

    @AfterEach
    void stop() throws Exception {
        if (server != null) {
            server.destroy();
            if (!server.waitFor(20, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor();
            }
        }
        dist.close();
    }

    private int startTeacher() throws Exception {
        server = dist.start("serve", "serve", dist.home.resolve("config/models/teacher").toString(), "--port", "0");
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
        while (System.nanoTime() < deadline) {
            Matcher m = PORT.matcher(dist.output("serve"));
            if (m.find()) {
                return Integer.parseInt(m.group(1));
            }
            assertTrue(server.isAlive(), "distill serve exited: " + dist.output("serve"));
            Thread.sleep(200);
        }
        throw new AssertionError("distill serve printed no port in 60 s: " + dist.output("serve"));
    }

    @Test
    void generatesThroughTheServedTeacherThenTrainsAndEvaluatesAStudent() throws Exception {
        int port = startTeacher();
        // the shipped experiment with a smaller seed sample (a list element cannot be --set)
        Path conf = dist.work.resolve("data-targeted-small.conf");
        Files.writeString(conf, """
                include file("%s")
                method.params.datasets = [
                  { name = targeted, generator { key = data.targeted, params {
                      seed-file = "%s", seed-limit = 24, instructions = 4, max-requests = 8
                      in-context-seeds = 3, in-context-generated = 1
                      instruction-template = "{examples}\\n", example-template = "{instruction}"
                      response-template = "{instruction}\\n", include-seeds = true
                      temperature = 1.0, top-p = 0.95, max-instruction-tokens = 32, max-response-tokens = 48 } } }
                ]
                """.formatted(dist.home.resolve("config/experiments/data-targeted.conf"),
                dist.home.resolve("config/data/suite/train.jsonl")));
        Distribution.Result r = dist.run(300, "run", conf.toString(),
                "--set", "method.params.endpoint.base-url=http://127.0.0.1:" + port + "/v1",
                "--set", "experiment.output-dir=data",
                "--set", "experiment.progress=lines",
                "--set", "train.steps=8",
                "--set", "train.batch-size=8",
                "--set", "method.params.evaluate.limit=10",
                "--set", "method.params.evaluate.max-new-tokens=16",
                "--set", "method.params.evaluate.include-teacher=false");
        assertEquals(0, r.exit(), r.all());

        Path runDir = Events.runDir(dist.work.resolve("data"), 1);
        JsonObject results = JsonParser.parseString(Files.readString(runDir.resolve("results.json"))).getAsJsonObject();
        assertTrue(results.has("targeted") && results.has("student") && results.has("evaluate"), results.toString());
        assertTrue(Events.ofType(Events.read(runDir), "run-finished").size() == 1, "the run finished");

        Path stage = runDir.resolve("stages/targeted");
        List<String> lines = Files.readAllLines(stage.resolve("data.jsonl")).stream().filter(l -> !l.isBlank()).toList();
        JsonObject prov = JsonParser.parseString(Files.readString(stage.resolve("provenance.json"))).getAsJsonObject();
        assertEquals(lines.size(), prov.get("records").getAsInt());
        assertEquals("http://127.0.0.1:" + port + "/v1", prov.getAsJsonObject("endpoint").get("base-url").getAsString());
        JsonObject steps = prov.getAsJsonObject("steps");
        for (String name : List.of("instructions", "responses")) {
            JsonObject s = steps.getAsJsonObject(name);
            int dropped = s.getAsJsonObject("dropped").entrySet().stream().mapToInt(e -> e.getValue().getAsInt()).sum();
            assertEquals(s.get("in").getAsInt(), s.get("kept").getAsInt() + dropped, name + ": " + s);
        }
        JsonObject instr = steps.getAsJsonObject("instructions");
        assertEquals(24 + instr.get("kept").getAsInt(), steps.getAsJsonObject("responses").get("in").getAsInt(),
                "every seed and every kept instruction was answered");
        assertEquals(lines.size(), steps.getAsJsonObject("responses").get("kept").getAsInt());
        JsonObject stageMetrics = results.getAsJsonObject("targeted").getAsJsonObject("metrics");
        assertEquals(lines.size(), stageMetrics.get("records").getAsInt());
        assertTrue(Files.isDirectory(stage.resolve("http-cache")));

        // the student trained on that file, and the table has its row
        assertEquals(8, results.getAsJsonObject("student").get("steps").getAsInt());
        String table = Files.readString(runDir.resolve("results.md"));
        assertTrue(table.lines().anyMatch(l -> l.startsWith("| student |")), table);
    }

    @Test
    void trainsOnTheServedTeachersTopKLogProbabilities() throws Exception {
        int port = startTeacher();
        Path conf = dist.work.resolve("graybox.conf");
        Files.writeString(conf, """
                include file("%s")
                experiment { name = graybox, progress = lines, output-dir = graybox }
                train.steps = 6
                tokenizer.dir = "%s"
                teacher = null
                teacher { key = teacher.remote, params { base-url = "http://127.0.0.1:%d/v1", model = teacher, top-k = 20 } }
                student {
                  inherit-teacher-config = false
                  config { model_type = gpt2, vocab_size = 259, n_embd = 32, n_layer = 1, n_head = 4, n_positions = 256,
                           bos_token_id = 257, eos_token_id = 258 }
                }
                """.formatted(dist.home.resolve("config/experiments/smoke.conf"), dist.home.resolve("config/models/teacher"),
                port));
        Distribution.Result r = dist.run(300, "run", conf.toString());
        assertEquals(0, r.exit(), r.all());
        Path runDir = Events.runDir(dist.work.resolve("graybox"), 1);
        List<JsonObject> steps = Events.ofType(Events.read(runDir), "step");
        assertEquals(6, steps.size());
        for (JsonObject s : steps) {
            assertTrue(Double.isFinite(s.getAsJsonObject("terms").get("0:kd.forward-kl").getAsDouble()), s.toString());
        }
        // the answers are cached beside the run directories, so a re-run does not ask again
        try (var cached = Files.walk(dist.work.resolve("graybox/remote-teacher-cache"))) {
            assertTrue(cached.anyMatch(Files::isRegularFile), "responses cached");
        }
    }
}
