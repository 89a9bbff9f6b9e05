package org.distillery.eval;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.gson.JsonObject;
import com.google.gson.JsonParser;
import com.sun.net.httpserver.HttpServer;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.metric.EvalContext;
import org.distillery.models.HfModelService;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.tensor.DjlTensorService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The rubric judge: reading the scores, and a whole evaluation against an OpenAI-compatible endpoint. */
class JudgeMetricTest {

    @Test
    void readsTwoScoresFromTheFirstLineInTheFormsJudgesWriteThem() {
        assertArrayEquals(new double[] {8, 6}, JudgeMetric.parseScores("8 6\nAssistant 1 is better because", 1, 10)
                .orElseThrow());
        assertArrayEquals(new double[] {7.5, 9}, JudgeMetric.parseScores("\n  7.5, 9\n", 1, 10).orElseThrow());
        assertArrayEquals(new double[] {8, 3}, JudgeMetric.parseScores("Assistant 1: 8 Assistant 2: 3", 1, 10)
                .orElseThrow());
        assertArrayEquals(new double[] {9, 4}, JudgeMetric.parseScores("Scores: 9/10 and 4/10", 1, 10).orElseThrow());
        // anything else is unparsed, never a score of 0
        assertTrue(JudgeMetric.parseScores("Both answers are good.\n8 7", 1, 10).isEmpty());
        assertTrue(JudgeMetric.parseScores("8", 1, 10).isEmpty());
        assertTrue(JudgeMetric.parseScores("8 7 6", 1, 10).isEmpty());
        assertTrue(JudgeMetric.parseScores("11 3", 1, 10).isEmpty());
        assertTrue(JudgeMetric.parseScores("", 1, 10).isEmpty());
        assertTrue(JudgeMetric.parseScores(null, 1, 10).isEmpty());
    }

    @Test
    void theDefaultPromptIsVicunasWithTheReferenceAsAssistantOne() {
        JudgeMetric j = new JudgeMetric(params("endpoint.base-url = \"http://127.0.0.1:1/v1\""));
        String p = j.prompt("Q?", "REF", "CAND");
        assertTrue(p.startsWith("[Question]\nQ?\n\n[The Start of Assistant 1's Answer]\nREF\n\n"), p);
        assertTrue(p.contains("[The Start of Assistant 2's Answer]\nCAND\n"), p);
        assertTrue(p.contains("Each assistant receives an overall score on a scale of 1 to 10"), p);
    }

    @Test
    void badSettingsAreRefused() {
        assertThrows(InvalidConfigException.class, () -> new JudgeMetric(params("")));
        assertThrows(InvalidConfigException.class, () -> new JudgeMetric(params(
                "endpoint.base-url = \"http://x/v1\", order = random")));
        assertThrows(InvalidConfigException.class, () -> new JudgeMetric(params(
                "endpoint.base-url = \"http://x/v1\", template = \"no placeholders\"")));
        assertThrows(InvalidConfigException.class, () -> new JudgeMetric(params(
                "endpoint.base-url = \"http://x/v1\", score-range = [10, 1]")));
    }

    @Test
    void scoresCandidatesRelativeToReferencesCountsUnparsedRepliesAndCachesEveryReply(@TempDir Path dir)
            throws IOException {
        AtomicInteger calls = new AtomicInteger();
        List<String> seen = new ArrayList<>();
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/v1/chat/completions", ex -> {
            JsonObject body = JsonParser.parseString(new String(ex.getRequestBody().readAllBytes(),
                    StandardCharsets.UTF_8)).getAsJsonObject();
            String user = body.getAsJsonArray("messages").get(1).getAsJsonObject().get("content").getAsString();
            synchronized (seen) {
                seen.add(user);
            }
            calls.incrementAndGet();
            // the judge prefers the reference on q1, the candidate on q2, and rambles on q3
            String reply = user.contains("q1") ? "9 5\nThe first is better." : user.contains("q2") ? "6 8\nok"
                    : "I cannot decide.";
            JsonObject msg = new JsonObject();
            msg.addProperty("role", "assistant");
            msg.addProperty("content", reply);
            JsonObject choice = new JsonObject();
            choice.add("message", msg);
            JsonObject out = new JsonObject();
            out.add("choices", new com.google.gson.JsonArray());
            out.getAsJsonArray("choices").add(choice);
            byte[] b = out.toString().getBytes(StandardCharsets.UTF_8);
            ex.getResponseHeaders().add("Content-Type", "application/json");
            ex.sendResponseHeaders(200, b.length);
            ex.getResponseBody().write(b);
            ex.close();
        });
        server.start();
        try (DjlTensorService tensors = DjlTensorService.start("cpu");
             EvalResources run = new EvalResources(tensors, new HfModelService(), null, 1)) {
            String base = "http://127.0.0.1:" + server.getAddress().getPort() + "/v1";
            JudgeMetric judge = new JudgeMetric(params("endpoint { base-url = \"" + base + "\", model = judge }, "
                    + "cache-dir = \"" + dir + "\""));
            List<Example> ex = List.of(Example.pair("a", "q1", "ref one", Map.of()),
                    Example.pair("b", "q2", "ref two", Map.of()), Example.pair("c", "q3", "ref three", Map.of()));
            EvalContext ctx = new EvalContext(run, null, null, new ByteTokenizer(), ex, List.of("c1", "c2", "c3"));
            Map<String, Double> f = judge.evaluate(ctx);
            assertEquals(3, calls.get());
            assertEquals(2.0, f.get("judge.n"));
            assertEquals(1.0, f.get("judge.unparsed"));
            assertEquals((5 + 8) / 2.0, f.get("judge.score"), 1e-12);
            assertEquals((9 + 6) / 2.0, f.get("judge.ref-score"), 1e-12);
            assertEquals((5.0 + 8) / (9 + 6), f.get("judge.relative"), 1e-12);
            assertTrue(seen.stream().anyMatch(u -> u.contains("q1") && u.indexOf("ref one") < u.indexOf("c1")), seen.toString());
            // the same evaluation again is answered from the cache
            assertEquals(f, judge.evaluate(ctx));
            assertEquals(3, calls.get());
            // both orders: six questions, the candidate first in three of them
            JudgeMetric both = new JudgeMetric(params("endpoint { base-url = \"" + base + "\", model = judge }, "
                    + "cache-dir = \"" + dir + "\", order = both"));
            Map<String, Double> g = both.evaluate(ctx);
            assertEquals(6, calls.get());
            assertEquals(4.0, g.get("judge.n"));
            assertEquals(2.0, g.get("judge.unparsed"));
        } finally {
            server.stop(0);
        }
    }

    private static com.typesafe.config.Config params(String hocon) {
        var defaults = ConfigFactory.parseResources(JudgeMetric.class.getClassLoader(), "reference.conf")
                .getConfig("distillery.metrics.\"eval.judge\"");
        return ConfigFactory.parseString(hocon).withFallback(defaults).resolve();
    }
}
