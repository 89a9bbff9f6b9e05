package org.distillery.dashboard;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** Run directories as distill run leaves them: config.conf, control/, events.jsonl, results.json, eval/. */
final class TestRuns {

    private TestRuns() {
    }

    /** The loss a test run logs at a step: decreasing, different per seed. */
    static double loss(long seed, long step) {
        return 5.0 / (1 + 0.1 * step) + 0.05 * seed;
    }

    /** A finished one-stage run of {@code steps} steps with checkpoints every 10 steps and an evaluation. */
    static Path finished(Path runs, String name, long seed, int steps, double lr) throws IOException {
        Path dir = Files.createDirectories(runs.resolve(name));
        Files.createDirectories(dir.resolve("control"));
        Files.writeString(dir.resolve("control/lock"), "");
        Files.writeString(dir.resolve("config.conf"), String.format(Locale.ROOT, """
                experiment {
                  name = watch
                  seed = %d
                  output-dir = runs
                  progress = lines
                }
                method { key = kd.compare, params { variants = [ { name = distill, loss = [ { key = kd.forward-kl } ] } ] } }
                train { steps = %d, lr = %s }
                data { test-file = "" }
                """, seed, steps, lr));
        List<String> lines = new ArrayList<>();
        Instant t = Instant.parse("2026-01-01T00:00:00Z").plusSeconds(seed * 1000);
        lines.add(event(t, "run-started", "\"stages\":[\"distill\",\"evaluate\"],\"method\":\"kd.compare@test/1\""));
        lines.add(event(t, "stage-started", "\"stage\":\"distill\""));
        lines.addAll(steps(seed, 1, steps, steps, t));
        lines.add(event(t.plusSeconds(steps), "stage-finished", "\"stage\":\"distill\",\"steps\":" + steps
                + ",\"stopped\":false"));
        lines.add(event(t.plusSeconds(steps + 1), "run-finished", "\"run\":\"" + name + "\""));
        Files.writeString(dir.resolve("events.jsonl"), String.join("\n", lines) + "\n");
        Files.writeString(dir.resolve("results.json"), "{\"distill\": {\"steps\": " + steps + ", \"metrics\": "
                + "{\"train.loss\": " + loss(seed, steps) + "}}}");
        Path eval = Files.createDirectories(dir.resolve("eval"));
        Files.writeString(eval.resolve("distill.json"), "{\"model\": \"distill\", \"metrics\": {\"rouge-l\": "
                + (0.1 * seed) + ", \"exact-match\": 0.25}}");
        StringBuilder preds = new StringBuilder();
        String[][] records = {
            {"yesno", "is tale a cat?", "yes", "yes"},
            {"yesno", "does sopen own a pig?", "no", "yes"},
            {"arith", "calculate 2 + 3.", "5", "5"},
            {"describe", "tell me about zozin.", "zozin is a painter from tapihe.", "zozin is a painter."},
            {"string", "spell abc in reverse.", "cba", "abc"},
        };
        for (int i = 0; i < records.length; i++) {
            preds.append(String.format(Locale.ROOT, "{\"id\":\"test-%05d\",\"prompt\":\"%s\",\"reference\":\"%s\","
                    + "\"prediction\":\"%s\",\"meta\":{\"task\":\"%s\"}}\n", i, records[i][1], records[i][2],
                    records[i][3], records[i][0]));
        }
        Files.writeString(eval.resolve("distill.predictions.jsonl"), preds.toString());
        return dir;
    }

    /** Step records {@code from..to} (inclusive) of a stage of {@code of} steps, an eval and a checkpoint every 10. */
    static List<String> steps(long seed, int from, int to, int of, Instant start) {
        List<String> lines = new ArrayList<>();
        for (int s = from; s <= to; s++) {
            Instant t = start.plusSeconds(s);
            lines.add(String.format(Locale.ROOT, "{\"time\":\"%s\",\"type\":\"step\",\"step\":%d,\"stage\":\"distill\","
                    + "\"of\":%d,\"loss\":%s,\"terms\":{\"0:kd.forward-kl\":%s},\"lr\":0.001,\"grad-norm\":1.5,"
                    + "\"tokens\":160,\"tokens-per-s\":800.0,\"ms\":{\"data\":1.0,\"forward-backward\":20.0},"
                    + "\"tensor-bytes\":6610432,\"native-bytes\":207978496}", t, s, of, loss(seed, s), loss(seed, s)));
            if (s % 10 == 0) {
                lines.add(event(t, "eval", "\"stage\":\"distill\",\"step\":" + s + ",\"val.loss\":" + (loss(seed, s) + 0.2)
                        + ",\"selected-by\":\"val.loss\""));
                lines.add(event(t, "checkpoint", "\"step\":" + s + ",\"path\":\"/x/step-" + s + "\""));
            }
        }
        return lines;
    }

    static String event(Instant t, String type, String fields) {
        return "{\"time\":\"" + t + "\",\"type\":\"" + type + "\"" + (fields.isEmpty() ? "" : "," + fields) + "}";
    }

    static void append(Path file, String text) throws IOException {
        Files.writeString(file, text, StandardCharsets.UTF_8, StandardOpenOption.APPEND);
    }
}
