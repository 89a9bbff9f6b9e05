package org.distillery.serve;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import ai.djl.ndarray.NDManager;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;

import org.distillery.api.model.LanguageModel;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.tensor.DjlTensorService;

/**
 * The server end to end over HTTP with continuous batching (the default); {@link WindowOpenAiServerTest}
 * runs every case again with the window scheduler.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class OpenAiServerTest {

    private DjlTensorService tensors;
    private NDManager manager;
    private LanguageModel model;
    private OpenAiServer server;
    private String url;

    /** The scheduler under test. */
    ServeOptions.Scheduling scheduling() {
        return ServeOptions.Scheduling.CONTINUOUS;
    }

    @BeforeAll
    void start() throws Exception {
        tensors = DjlTensorService.start("cpu");
        manager = tensors.newRunScope("serve-test");
        model = TestModels.model(manager, 7);
        ServeOptions o = ServeOptions.defaults("tiny").withBatching(Duration.ofMillis(60), 16)
                .withLimits(16 * 1024, 48, 60).withScheduling(scheduling());
        server = OpenAiServer.start(model, new ByteTokenizer(), manager, o);
        url = server.baseUrl();
    }

    @AfterAll
    void stop() {
        if (server != null) {
            server.close();
        }
        if (model != null) {
            model.close();
        }
        if (manager != null) {
            manager.close();
        }
        if (tensors != null) {
            tensors.close();
        }
    }

    private static int[] prompt(String text) {
        byte[] b = text.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        int[] ids = new int[b.length + 1];
        ids[0] = 257;
        for (int i = 0; i < b.length; i++) {
            ids[i + 1] = b[i] & 0xff;
        }
        return ids;
    }

    private TestModels.Resp post(String path, String body, String... headers) throws Exception {
        String[] h = new String[headers.length + 2];
        h[0] = "Content-Type";
        h[1] = "application/json";
        System.arraycopy(headers, 0, h, 2, headers.length);
        return TestModels.send("POST", url + path, body, h);
    }

    private void assertStillServes() throws Exception {
        TestModels.Resp r = post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"ok\",\"max_tokens\":2,"
                + "\"temperature\":0}");
        assertEquals(200, r.status(), r.body());
        assertEquals("text_completion", r.json().get("object").getAsString());
    }

    /**
     * Sends {@code bodies} at once while the scheduler is held, releases it when all are queued (so
     * they are admitted as one batch), and returns the answers in order.
     */
    private List<TestModels.Resp> together(String path, List<String> bodies) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(bodies.size());
        Scheduler scheduler = server.scheduler();
        scheduler.hold();
        try {
            List<Future<TestModels.Resp>> fs = new ArrayList<>();
            for (String b : bodies) {
                fs.add(pool.submit(() -> post(path, b)));
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (scheduler.waiting() < bodies.size()) {
                assertTrue(System.nanoTime() < deadline, "the requests never reached the scheduler");
                Thread.sleep(2);
            }
            scheduler.release();
            List<TestModels.Resp> out = new ArrayList<>();
            for (Future<TestModels.Resp> f : fs) {
                out.add(f.get());
            }
            return out;
        } finally {
            scheduler.release();
            pool.shutdown();
        }
    }

    private static String text(TestModels.Resp r) {
        assertEquals(200, r.status(), r.body());
        return r.json().getAsJsonArray("choices").get(0).getAsJsonObject().get("text").getAsString();
    }

    private static int[] tokenIds(JsonArray tokens) {
        int[] got = new int[tokens.size()];
        for (int t = 0; t < got.length; t++) {
            got[t] = TestModels.tokenId(tokens.get(t).getAsString());
        }
        return got;
    }

    @Test
    void concurrentRequestsAreBatchedAndMatchUnbatchedGreedyDecoding() throws Exception {
        int clients = 8;
        String[] prompts = new String[clients];
        int[][] expected = new int[clients][];
        List<String> bodies = new ArrayList<>();
        for (int i = 0; i < clients; i++) {
            prompts[i] = "prompt number " + i + (i % 2 == 0 ? " and a longer tail" : "");
            expected[i] = TestModels.greedy(model, manager, prompt(prompts[i]), 3 + i);
            bodies.add("{\"model\":\"tiny\",\"prompt\":\"" + prompts[i] + "\",\"max_tokens\":" + (3 + i)
                    + ",\"temperature\":0,\"ignore_eos\":true,\"logprobs\":0,\"return_tokens_as_token_ids\":true}");
        }
        long batches = server.stats().batches();
        long batched = server.stats().batchedRequests();
        List<TestModels.Resp> answers = together("/v1/completions", bodies);
        for (int i = 0; i < clients; i++) {
            TestModels.Resp r = answers.get(i);
            assertEquals(200, r.status(), r.body());
            JsonObject choice = r.json().getAsJsonArray("choices").get(0).getAsJsonObject();
            assertArrayEquals(expected[i], tokenIds(choice.getAsJsonObject("logprobs").getAsJsonArray("tokens")),
                    "request " + i);
            assertEquals("length", choice.get("finish_reason").getAsString());
            assertEquals(3 + i, r.json().getAsJsonObject("usage").get("completion_tokens").getAsInt());
        }
        assertEquals(1, server.stats().batches() - batches, "the requests shared one batch: " + server.stats());
        assertEquals(clients, server.stats().batchedRequests() - batched, server.stats().toString());
    }

    @Test
    void rowsWithDifferentSamplingParametersShareABatchEqualThemselvesAloneAndSeedsRepeat() throws Exception {
        List<String> bodies = List.of(
            "{\"model\":\"tiny\",\"prompt\":\"abc\",\"max_tokens\":5,\"temperature\":1.3,\"seed\":11}",
            "{\"model\":\"tiny\",\"prompt\":\"a much longer prompt here\",\"max_tokens\":2,\"temperature\":0}",
            "{\"model\":\"tiny\",\"prompt\":\"xyz\",\"max_tokens\":7,\"temperature\":0.7,\"top_p\":0.5,\"seed\":3}");
        long batches = server.stats().batches();
        long batched = server.stats().batchedRequests();
        long steps = server.stats().decodeSteps();
        long rowSteps = server.stats().rowSteps();
        List<String> batchedTexts = together("/v1/completions", bodies).stream().map(OpenAiServerTest::text).toList();
        assertEquals(1, server.stats().batches() - batches, "the three requests shared one batch: " + server.stats());
        assertEquals(3, server.stats().batchedRequests() - batched, server.stats().toString());
        // 7 decoding steps at most (the longest budget) for 5 + 2 + 7 tokens: rows decoded side by side
        assertTrue(server.stats().rowSteps() - rowSteps > server.stats().decodeSteps() - steps,
                "rows shared decoding steps: " + server.stats());
        List<String> aloneTexts = new ArrayList<>();
        for (String b : bodies) {
            aloneTexts.add(text(post("/v1/completions", b)));
        }
        assertEquals(aloneTexts, batchedTexts, "each row of the batch decodes as it does alone");
        assertEquals(batchedTexts, together("/v1/completions", bodies).stream().map(OpenAiServerTest::text).toList(),
                "same seeds, same texts");
    }

    @Test
    void streamingSendsChunksThenDoneAndMatchesTheWholeAnswer() throws Exception {
        String body = "{\"model\":\"tiny\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}],\"max_tokens\":6,"
                + "\"temperature\":0,\"logprobs\":true,\"top_logprobs\":2%s}";
        TestModels.Resp whole = post("/v1/chat/completions", String.format(body, ""));
        assertEquals(200, whole.status(), whole.body());
        JsonObject wholeChoice = whole.json().getAsJsonArray("choices").get(0).getAsJsonObject();
        TestModels.Resp streamed = post("/v1/chat/completions", String.format(body,
                ",\"stream\":true,\"stream_options\":{\"include_usage\":true}"));
        assertEquals(200, streamed.status(), streamed.body());
        assertTrue(streamed.headers().firstValue("Content-Type").orElse("").startsWith("text/event-stream"));
        List<String> data = new ArrayList<>();
        for (String line : streamed.body().split("\n")) {
            if (!line.isEmpty()) {
                assertTrue(line.startsWith("data: "), line);
                data.add(line.substring(6));
            }
        }
        assertEquals("[DONE]", data.get(data.size() - 1));
        StringBuilder text = new StringBuilder();
        int tokens = 0;
        String finish = null;
        JsonObject usage = null;
        for (int i = 0; i < data.size() - 1; i++) {
            JsonObject c = JsonParser.parseString(data.get(i)).getAsJsonObject();
            assertEquals("chat.completion.chunk", c.get("object").getAsString());
            if (c.getAsJsonArray("choices").isEmpty()) {
                usage = c.getAsJsonObject("usage");
                continue;
            }
            JsonObject ch = c.getAsJsonArray("choices").get(0).getAsJsonObject();
            if (i == 0) {
                assertEquals("assistant", ch.getAsJsonObject("delta").get("role").getAsString());
            }
            JsonElement content = ch.getAsJsonObject("delta").get("content");
            if (content != null) {
                text.append(content.getAsString());
            }
            if (ch.get("logprobs").isJsonObject()) {
                JsonArray lp = ch.getAsJsonObject("logprobs").getAsJsonArray("content");
                tokens += lp.size();
                assertEquals(2, lp.get(0).getAsJsonObject().getAsJsonArray("top_logprobs").size());
            }
            if (!ch.get("finish_reason").isJsonNull()) {
                finish = ch.get("finish_reason").getAsString();
            }
        }
        assertEquals(wholeChoice.getAsJsonObject("message").get("content").getAsString(), text.toString());
        assertEquals(wholeChoice.getAsJsonObject("logprobs").getAsJsonArray("content").size(), tokens);
        assertEquals(wholeChoice.get("finish_reason").getAsString(), finish);
        assertNotNull(usage, "include_usage chunk");
        assertEquals(tokens, usage.get("completion_tokens").getAsInt());
    }

    @Test
    void chatLogprobsHaveOpenAiShapeAndTheModelsValues() throws Exception {
        TestModels.Resp r = post("/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"system\","
                + "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"2+2?\"}],\"max_tokens\":5,\"temperature\":0.9,"
                + "\"seed\":5,\"logprobs\":true,\"top_logprobs\":3,\"return_tokens_as_token_ids\":true}");
        assertEquals(200, r.status(), r.body());
        JsonArray content = r.json().getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs")
                .getAsJsonArray("content");
        int promptTokens = r.json().getAsJsonObject("usage").get("prompt_tokens").getAsInt();
        assertEquals(r.json().getAsJsonObject("usage").get("completion_tokens").getAsInt(), content.size());
        ByteTokenizer tok = new ByteTokenizer();
        int[] p = tok.encode(tok.applyChatTemplate(List.of(new org.distillery.api.model.Tokenizer.ChatTurn("system",
                "be brief"), new org.distillery.api.model.Tokenizer.ChatTurn("user", "2+2?")), true));
        int[] seq = new int[p.length + 1 + content.size()];
        seq[0] = 257;
        System.arraycopy(p, 0, seq, 1, p.length);
        assertEquals(promptTokens, p.length + 1);
        for (int t = 0; t < content.size(); t++) {
            seq[promptTokens + t] = TestModels.tokenId(content.get(t).getAsJsonObject().get("token").getAsString());
        }
        float[][] lp = TestModels.logProbs(model, manager, seq);
        for (int t = 0; t < content.size(); t++) {
            JsonObject e = content.get(t).getAsJsonObject();
            float[] row = lp[promptTokens + t - 1];
            assertEquals(row[seq[promptTokens + t]], e.get("logprob").getAsFloat(), 1e-3, "token " + t);
            assertTrue(e.has("bytes"));
            JsonArray top = e.getAsJsonArray("top_logprobs");
            assertEquals(3, top.size());
            int[] want = BatchDecoder.topK(row, 0, TestModels.VOCAB, 3);
            for (int j = 0; j < 3; j++) {
                JsonObject alt = top.get(j).getAsJsonObject();
                assertEquals(want[j], TestModels.tokenId(alt.get("token").getAsString()), "token " + t + " alt " + j);
                assertEquals(row[want[j]], alt.get("logprob").getAsFloat(), 1e-3);
            }
        }
    }

    @Test
    void echoScoresThePromptLikeADirectForward() throws Exception {
        int[] seq = prompt("the quick brown fox");
        JsonArray ids = new JsonArray();
        for (int id : seq) {
            ids.add(id);
        }
        TestModels.Resp r = post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":" + ids + ",\"max_tokens\":0,"
                + "\"echo\":true,\"logprobs\":4,\"return_tokens_as_token_ids\":true}");
        assertEquals(200, r.status(), r.body());
        JsonObject lp = r.json().getAsJsonArray("choices").get(0).getAsJsonObject().getAsJsonObject("logprobs");
        JsonArray tokens = lp.getAsJsonArray("tokens");
        JsonArray values = lp.getAsJsonArray("token_logprobs");
        JsonArray tops = lp.getAsJsonArray("top_logprobs");
        assertEquals(seq.length, tokens.size());
        assertTrue(values.get(0).isJsonNull());
        assertTrue(tops.get(0).isJsonNull());
        float[][] direct = TestModels.logProbs(model, manager, seq);
        for (int t = 1; t < seq.length; t++) {
            assertEquals(seq[t], TestModels.tokenId(tokens.get(t).getAsString()));
            assertEquals(direct[t - 1][seq[t]], values.get(t).getAsFloat(), 1e-4);
            JsonObject top = tops.get(t).getAsJsonObject();
            assertEquals(4, top.size());
            Set<Integer> got = new HashSet<>();
            top.keySet().forEach(k -> got.add(TestModels.tokenId(k)));
            Set<Integer> want = new HashSet<>();
            for (int id : BatchDecoder.topK(direct[t - 1], 0, TestModels.VOCAB, 4)) {
                want.add(id);
                assertEquals(direct[t - 1][id], top.get("token_id:" + id).getAsFloat(), 1e-4);
            }
            assertEquals(want, got, "position " + t);
        }
    }

    @Test
    void modelsListsTheModelWithItsTokenizer() throws Exception {
        TestModels.Resp r = TestModels.send("GET", url + "/v1/models", null);
        assertEquals(200, r.status(), r.body());
        JsonObject m = r.json().getAsJsonArray("data").get(0).getAsJsonObject();
        assertEquals("tiny", m.get("id").getAsString());
        assertEquals(new ByteTokenizer().fingerprint(), m.getAsJsonObject("distillery").get("tokenizer_fingerprint")
                .getAsString());
    }

    private static void assertError(TestModels.Resp r, int status, String param, String... inMessage) {
        assertEquals(status, r.status(), r.body());
        JsonObject e = r.error();
        assertTrue(e.has("message") && e.has("type") && e.has("param") && e.has("code"), r.body());
        if (param == null) {
            assertTrue(e.get("param").isJsonNull(), r.body());
        } else {
            assertEquals(param, e.get("param").getAsString(), r.body());
        }
        for (String s : inMessage) {
            assertTrue(e.get("message").getAsString().contains(s), "'" + s + "' not in " + r.body());
        }
    }

    @Test
    void badRequestsGetOpenAiErrorsAndTheServerKeepsServing() throws Exception {
        long rejected = server.stats().rejected();
        assertError(post("/v1/chat/completions", "{\"model\": \"tiny\", \"messages\": [}"), 400, null, "not valid JSON");
        assertStillServes();
        assertError(post("/v1/chat/completions", "{model: tiny}"), 400, null, "not valid JSON");
        assertError(post("/v1/chat/completions", "[1, 2]"), 400, null, "JSON object");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\"}"), 400, "messages", "'messages' is required");
        assertError(post("/v1/chat/completions", "{\"model\":\"tiny\",\"messages\":[{\"role\":\"robot\",\"content\":"
                + "\"x\"}]}"), 400, "messages[0].role", "robot");
        assertError(post("/v1/completions", "{\"prompt\":\"x\"}"), 400, "model", "'model' is required");
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"temperature\":\"hot\"}"), 400,
                "temperature", "number");
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"n\":3}"), 400, "n");
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":[1,2,999]}"), 400, "prompt", "999");
        assertStillServes();
        assertError(post("/v1/completions", "{\"model\":\"gpt-9\",\"prompt\":\"x\"}"), 404, "model", "gpt-9", "tiny");
        assertEquals("model_not_found", post("/v1/completions", "{\"model\":\"gpt-9\",\"prompt\":\"x\"}").error()
                .get("code").getAsString());
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"x\",\"max_tokens\":5000}"), 400,
                "max_tokens", "5000", "48");
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "y".repeat(70) + "\"}"), 400,
                "prompt", "71 tokens");
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "y".repeat(40) + "\",\"max_tokens\":40}"),
                400, "max_tokens", "context");
        assertStillServes();
        assertError(post("/v1/completions", "{\"model\":\"tiny\",\"prompt\":\"" + "z".repeat(20_000) + "\"}"), 413, null,
                "larger than", "16384");
        assertError(TestModels.send("GET", url + "/v1/completions", null), 405, null, "GET", "POST");
        assertError(TestModels.send("GET", url + "/v2/nothing", null), 404, null, "unknown URL");
        assertStillServes();
        assertTrue(server.stats().rejected() - rejected >= 15, server.stats().toString());
    }

    @Test
    void apiKeyIsRequiredWhenSet() throws Exception {
        ServeOptions o = ServeOptions.defaults("tiny").withApiKey("s3cret");
        try (OpenAiServer keyed = OpenAiServer.start(model, new ByteTokenizer(), manager, o)) {
            String body = "{\"model\":\"tiny\",\"prompt\":\"a\",\"max_tokens\":1}";
            String u = keyed.baseUrl() + "/v1/completions";
            TestModels.Resp none = TestModels.send("POST", u, body);
            assertError(none, 401, null, "missing API key");
            TestModels.Resp wrong = TestModels.send("POST", u, body, "Authorization", "Bearer nope");
            assertError(wrong, 401, null, "incorrect API key");
            assertEquals("invalid_api_key", wrong.error().get("code").getAsString());
            assertError(TestModels.send("GET", keyed.baseUrl() + "/v1/models", null), 401, null);
            TestModels.Resp right = TestModels.send("POST", u, body, "Authorization", "Bearer s3cret");
            assertEquals(200, right.status(), right.body());
        }
        assertStillServes();
    }

    @Test
    void stopStringsCutTheTextOfTheirOwnRowOnly() throws Exception {
        // a prompt whose greedy continuation shows a new printable character: a stop string that must match
        List<String> candidates = new ArrayList<>();
        List<int[]> ids = new ArrayList<>();
        for (char c = 'a'; c <= 'z'; c++) {
            candidates.add("ab" + c);
            ids.add(prompt("ab" + c));
        }
        TestModels.StopCase sc = TestModels.stopCase(model, manager, ids, 12);
        String p = candidates.get(ids.indexOf(sc.prompt()));
        String plain = "{\"model\":\"tiny\",\"prompt\":\"" + p + "\",\"max_tokens\":12,\"temperature\":0,"
                + "\"ignore_eos\":true}";
        String withStop = plain.substring(0, plain.length() - 1) + ",\"stop\":[\"@@never@@\","
                + new com.google.gson.Gson().toJson(sc.stop()) + "]}";
        String free = text(post("/v1/completions", plain));
        assertTrue(free.startsWith(sc.textBefore() + sc.stop()), free);
        List<TestModels.Resp> both = together("/v1/completions", List.of(withStop, plain));
        JsonObject ch = both.get(0).json().getAsJsonArray("choices").get(0).getAsJsonObject();
        assertEquals(sc.textBefore(), ch.get("text").getAsString());
        assertEquals("stop", ch.get("finish_reason").getAsString());
        assertFalse(ch.get("text").getAsString().contains(sc.stop()));
        assertEquals(sc.at() + 1, both.get(0).json().getAsJsonObject("usage").get("completion_tokens").getAsInt(),
                "decoding stopped at the token that completed the stop string");
        assertEquals(free, text(both.get(1)), "the row without stop strings in the same batch runs to its budget");
        assertEquals("length", both.get(1).json().getAsJsonArray("choices").get(0).getAsJsonObject()
                .get("finish_reason").getAsString());
    }

    @Test
    void concurrentStreamsArriveInOrderAndEqualTheirRequestsAlone() throws Exception {
        int clients = 4;
        List<String> bodies = new ArrayList<>();
        int[][] expected = new int[clients][];
        for (int i = 0; i < clients; i++) {
            String p = "stream " + i + " " + "x".repeat(3 * i);
            expected[i] = TestModels.greedy(model, manager, prompt(p), 6 + 5 * i);
            bodies.add("{\"model\":\"tiny\",\"prompt\":\"" + p + "\",\"max_tokens\":" + (6 + 5 * i)
                    + ",\"temperature\":0,\"ignore_eos\":true,\"stream\":true,\"logprobs\":0,"
                    + "\"return_tokens_as_token_ids\":true}");
        }
        List<TestModels.Resp> answers = together("/v1/completions", bodies);
        for (int i = 0; i < clients; i++) {
            TestModels.Resp r = answers.get(i);
            assertEquals(200, r.status(), r.body());
            List<Integer> got = new ArrayList<>();
            String finish = null;
            String last = null;
            for (String line : r.body().split("\n")) {
                if (line.isEmpty()) {
                    continue;
                }
                last = line.substring(6);
                if (last.equals("[DONE]")) {
                    continue;
                }
                assertEquals(null, finish, "no chunk after the one that ends the stream");
                JsonObject ch = JsonParser.parseString(last).getAsJsonObject().getAsJsonArray("choices").get(0)
                        .getAsJsonObject();
                if (ch.get("logprobs").isJsonObject()) {
                    for (JsonElement t : ch.getAsJsonObject("logprobs").getAsJsonArray("tokens")) {
                        got.add(TestModels.tokenId(t.getAsString()));
                    }
                }
                if (!ch.get("finish_reason").isJsonNull()) {
                    finish = ch.get("finish_reason").getAsString();
                }
            }
            assertEquals("[DONE]", last);
            assertEquals("length", finish);
            assertArrayEquals(expected[i], got.stream().mapToInt(Integer::intValue).toArray(), "stream " + i);
        }
    }

    @Test
    void aClientThatDisconnectsMidStreamDoesNotDisturbTheOthers() throws Exception {
        String streamed = "{\"model\":\"tiny\",\"prompt\":\"going away\",\"max_tokens\":48,\"temperature\":0,"
                + "\"ignore_eos\":true,\"stream\":true}";
        List<String> bodies = new ArrayList<>();
        int[][] expected = new int[3][];
        for (int i = 0; i < 3; i++) {
            String p = "staying " + i;
            expected[i] = TestModels.greedy(model, manager, prompt(p), 12 + 4 * i);
            bodies.add("{\"model\":\"tiny\",\"prompt\":\"" + p + "\",\"max_tokens\":" + (12 + 4 * i)
                    + ",\"temperature\":0,\"ignore_eos\":true,\"logprobs\":0,\"return_tokens_as_token_ids\":true}");
        }
        Scheduler scheduler = server.scheduler();
        scheduler.hold();
        ExecutorService pool = Executors.newFixedThreadPool(3);
        try (java.net.Socket leaving = new java.net.Socket("127.0.0.1", server.port())) {
            byte[] body = streamed.getBytes(java.nio.charset.StandardCharsets.UTF_8);
            leaving.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Type: "
                    + "application/json\r\nContent-Length: " + body.length + "\r\n\r\n").getBytes(
                    java.nio.charset.StandardCharsets.US_ASCII));
            leaving.getOutputStream().write(body);
            leaving.getOutputStream().flush();
            List<Future<TestModels.Resp>> staying = new ArrayList<>();
            for (String b : bodies) {
                staying.add(pool.submit(() -> post("/v1/completions", b)));
            }
            long deadline = System.nanoTime() + 30_000_000_000L;
            while (scheduler.waiting() < 4) {
                assertTrue(System.nanoTime() < deadline, "the requests never reached the scheduler");
                Thread.sleep(2);
            }
            scheduler.release();
            // read the first bytes of the stream, then hang up while the rows are decoding
            assertTrue(leaving.getInputStream().read(new byte[64]) > 0, "the stream started");
            leaving.setSoLinger(true, 0);
            leaving.close();
            for (int i = 0; i < 3; i++) {
                TestModels.Resp r = staying.get(i).get();
                assertEquals(200, r.status(), r.body());
                JsonObject choice = r.json().getAsJsonArray("choices").get(0).getAsJsonObject();
                assertArrayEquals(expected[i], tokenIds(choice.getAsJsonObject("logprobs").getAsJsonArray("tokens")),
                        "request " + i);
                assertEquals("length", choice.get("finish_reason").getAsString());
            }
        } finally {
            scheduler.release();
            pool.shutdown();
        }
        assertStillServes();
    }
}
