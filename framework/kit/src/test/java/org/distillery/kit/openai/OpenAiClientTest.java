package org.distillery.kit.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import org.distillery.api.model.Tokenizer.ChatTurn;
import org.distillery.kit.openai.StubEndpoint.Answer;

/**
 * {@link OpenAiClient} alone, against a scripted stub endpoint: retries and their limits,
 * timeouts, the disk cache, the requests it sends and the answers it parses. (framework/serve
 * tests the client against the real server.)
 */
class OpenAiClientTest {

    private static final String CHAT_OK = "{\"choices\":[{\"message\":{\"role\":\"assistant\",\"content\":\"hi\"}}]}";
    private static final String COMPLETION_OK = "{\"choices\":[{\"text\":\" four\"}]}";
    private static final String OVERLOADED = "{\"error\":{\"message\":\"overloaded\",\"code\":\"busy\"}}";
    private static final List<ChatTurn> TURNS = List.of(new ChatTurn("system", "be brief"), new ChatTurn("user", "2+2?"));

    @TempDir
    Path dir;

    /** Options for a stub: no waiting between retries unless a test asks for it. */
    private static ClientOptions options(StubEndpoint stub, int retries) {
        return ClientOptions.of(stub.uri(), "teacher").withRetries(retries, Duration.ZERO, Duration.ZERO)
                .withTimeout(Duration.ofSeconds(10));
    }

    @Test
    void retriesOn503And429HonouringRetryAfterThenSucceeds() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(
                Answer.json(503, OVERLOADED).withHeader("Retry-After", "0"),
                Answer.json(429, OVERLOADED).withHeader("Retry-After", "Tue, 01 Jan 2019 00:00:00 GMT"),
                Answer.json(200, CHAT_OK));
             // a backoff of 20 s: only the server's Retry-After lets this finish in time
             OpenAiClient client = new OpenAiClient(ClientOptions.of(stub.uri(), "teacher")
                     .withRetries(3, Duration.ofSeconds(20), Duration.ofSeconds(20)))) {
            String reply = assertTimeoutPreemptively(Duration.ofSeconds(8), () -> client.chatText(TURNS, 8, 0.0, 1L));
            assertEquals("hi", reply);
            assertEquals(2, client.retries());
            assertEquals(3, client.httpCalls());
            assertEquals(3, stub.received().size());
            assertEquals(stub.received().get(0).body(), stub.received().get(2).body(), "the same request each time");
        }
    }

    @Test
    void serverErrorsWithoutRetryAfterBackOffAndRetry() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(Answer.json(500, "oops"), Answer.json(502, ""),
                Answer.json(200, COMPLETION_OK));
             OpenAiClient client = new OpenAiClient(ClientOptions.of(stub.uri(), "teacher")
                     .withRetries(2, Duration.ofMillis(5), Duration.ofMillis(10)))) {
            assertEquals(" four", client.completeText("2+2=", 4, 0.0, null));
            assertEquals(2, client.retries());
        }
    }

    @Test
    void givesUpAfterTheLastRetryWithTheLastStatus() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(Answer.json(503, OVERLOADED));
             OpenAiClient client = new OpenAiClient(options(stub, 2))) {
            OpenAiException e = assertThrows(OpenAiException.class, () -> client.chatText(TURNS, 8, 0.0, null));
            assertEquals(503, e.status());
            assertEquals("busy", e.code());
            assertTrue(e.getMessage().contains("after 3 attempt(s)"), e.getMessage());
            assertTrue(e.getMessage().contains("HTTP 503: overloaded"), e.getMessage());
            assertEquals(3, stub.received().size());
            assertEquals(2, client.retries());
        }
    }

    @Test
    void clientErrorsAreNotRetried() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(
                Answer.json(400, "{\"error\":{\"message\":\"bad prompt\",\"code\":\"invalid_request_error\"}}"));
             OpenAiClient client = new OpenAiClient(options(stub, 5))) {
            OpenAiException e = assertThrows(OpenAiException.class, () -> client.completeText("x", 1, 0.0, null));
            assertEquals(400, e.status());
            assertEquals("invalid_request_error", e.code());
            assertTrue(e.getMessage().contains("bad prompt"), e.getMessage());
            assertTrue(e.getMessage().contains("/v1/completions"), e.getMessage());
            assertEquals(1, stub.received().size());
            assertEquals(0, client.retries());
        }
        try (StubEndpoint stub = new StubEndpoint(Answer.json(404, "no such route"));
             OpenAiClient client = new OpenAiClient(options(stub, 5))) {
            OpenAiException e = assertThrows(OpenAiException.class, () -> client.models());
            assertEquals(404, e.status());
            assertNull(e.code());
            assertTrue(e.getMessage().contains("no such route"), "a body without an error object is quoted: "
                    + e.getMessage());
            assertEquals(1, stub.received().size());
        }
    }

    @Test
    void aSlowAnswerTimesOutAndIsRetried() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, CHAT_OK).after(3000));
             OpenAiClient client = new OpenAiClient(options(stub, 1).withTimeout(Duration.ofMillis(200)))) {
            OpenAiException e = assertThrows(OpenAiException.class, () -> client.chatText(TURNS, 8, 0.0, null));
            assertEquals(-1, e.status(), "no response came");
            assertTrue(e.getMessage().contains("timed out after 200 ms"), e.getMessage());
            assertTrue(e.getMessage().contains("after 2 attempt(s)"), e.getMessage());
            assertEquals(2, client.httpCalls());
            assertEquals(1, client.retries());
        }
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, CHAT_OK).after(3000), Answer.json(200, CHAT_OK));
             OpenAiClient client = new OpenAiClient(options(stub, 1).withTimeout(Duration.ofMillis(200)))) {
            assertEquals("hi", client.chatText(TURNS, 8, 0.0, null), "the retry answers in time");
            assertEquals(1, client.retries());
        }
    }

    @Test
    void theCacheAnswersARepeatedRequestWithoutHttpAcrossClients() throws IOException {
        Path cache = dir.resolve("responses");
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, CHAT_OK))) {
            try (OpenAiClient first = new OpenAiClient(options(stub, 0).withCache(cache))) {
                assertEquals("hi", first.chatText(TURNS, 8, 0.0, 1L));
                assertEquals("hi", first.chatText(TURNS, 8, 0.0, 1L));
                assertEquals(1, first.httpCalls());
                assertEquals(1, first.cacheHits());
            }
            try (OpenAiClient second = new OpenAiClient(options(stub, 0).withCache(cache))) {
                assertEquals("hi", second.chatText(TURNS, 8, 0.0, 1L));
                assertEquals(0, second.httpCalls(), "another client (another run) reads the same cache");
                assertEquals(1, second.cacheHits());
                assertEquals("hi", second.chatText(TURNS, 8, 0.0, 2L));
                assertEquals(1, second.httpCalls(), "another seed is another request");
            }
            assertEquals(2, stub.received().size());

            List<Path> files = cacheFiles(cache);
            assertEquals(2, files.size());
            for (Path f : files) {
                assertTrue(f.getFileName().toString().matches("[0-9a-f]{64}\\.json"), f.toString());
                assertEquals(f.getFileName().toString().substring(0, 2), f.getParent().getFileName().toString());
                assertEquals(JsonParser.parseString(CHAT_OK), JsonParser.parseString(Files.readString(f)));
            }

            // an unreadable entry is a miss, and the fresh answer replaces it
            for (Path f : files) {
                Files.writeString(f, "{ truncated");
            }
            try (OpenAiClient third = new OpenAiClient(options(stub, 0).withCache(cache))) {
                assertEquals("hi", third.chatText(TURNS, 8, 0.0, 1L));
                assertEquals(1, third.httpCalls());
                assertEquals(0, third.cacheHits());
            }
            assertEquals(3, stub.received().size());
            assertEquals(2, cacheFiles(cache).size(), "no temporary file left beside the entries");
        }
    }

    @Test
    void failedRequestsAreNotCached() throws IOException {
        Path cache = dir.resolve("responses");
        try (StubEndpoint stub = new StubEndpoint(Answer.json(400, OVERLOADED), Answer.json(200, CHAT_OK));
             OpenAiClient client = new OpenAiClient(options(stub, 0).withCache(cache))) {
            assertThrows(OpenAiException.class, () -> client.chatText(TURNS, 8, 0.0, 1L));
            assertEquals("hi", client.chatText(TURNS, 8, 0.0, 1L));
            assertEquals(2, stub.received().size());
        }
    }

    private static List<Path> cacheFiles(Path cache) throws IOException {
        try (Stream<Path> s = Files.walk(cache)) {
            return s.filter(Files::isRegularFile).sorted().toList();
        }
    }

    @Test
    void messagesAreRoleAndContentObjects() {
        JsonArray m = OpenAiClient.messages(TURNS);
        assertEquals(JsonParser.parseString("[{\"role\":\"system\",\"content\":\"be brief\"},"
                + "{\"role\":\"user\",\"content\":\"2+2?\"}]"), m);
        assertEquals(new JsonArray(), OpenAiClient.messages(List.of()));
    }

    @Test
    void chatAndCompletionRequestsHaveTheOpenAiShape() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, CHAT_OK), Answer.json(200, CHAT_OK),
                Answer.json(200, COMPLETION_OK));
             OpenAiClient client = new OpenAiClient(options(stub, 0))) {
            client.chatText(TURNS, 8, 0.5, 7L);
            client.chatText(TURNS, 8, 0.0, null);
            client.completeText("2+2=", 4, 0.0, 3L);

            List<StubEndpoint.Received> got = stub.received();
            StubEndpoint.Received chat = got.get(0);
            assertEquals("POST", chat.method());
            assertEquals("/v1/chat/completions", chat.path());
            assertEquals("application/json", chat.contentType());
            assertNull(chat.authorization(), "no key, no Authorization header");
            assertEquals(JsonParser.parseString("{\"model\":\"teacher\",\"messages\":[{\"role\":\"system\","
                    + "\"content\":\"be brief\"},{\"role\":\"user\",\"content\":\"2+2?\"}],\"max_tokens\":8,"
                    + "\"temperature\":0.5,\"seed\":7}"), JsonParser.parseString(chat.body()));
            assertTrue(chat.body().startsWith("{\"model\":\"teacher\","), "the model comes first: " + chat.body());
            assertTrue(!JsonParser.parseString(got.get(1).body()).getAsJsonObject().has("seed"), "no seed: none sent");

            StubEndpoint.Received completion = got.get(2);
            assertEquals("/v1/completions", completion.path());
            assertEquals(JsonParser.parseString("{\"model\":\"teacher\",\"prompt\":\"2+2=\",\"max_tokens\":4,"
                    + "\"temperature\":0.0,\"seed\":3}"), JsonParser.parseString(completion.body()));
        }
    }

    @Test
    void aRequestNamingItsModelKeepsItAndTheKeyIsSent() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, CHAT_OK));
             OpenAiClient client = new OpenAiClient(ClientOptions.of(URI.create(stub.uri() + "/v1/"), "teacher")
                     .withApiKey("sk-test").withRetries(0, Duration.ZERO, Duration.ZERO))) {
            JsonObject body = new JsonObject();
            body.addProperty("model", "other");
            body.add("messages", OpenAiClient.messages(TURNS));
            JsonObject answer = client.chat(body);
            assertEquals(JsonParser.parseString(CHAT_OK), answer);
            assertTrue(!body.has("max_tokens") && body.get("model").getAsString().equals("other"),
                    "the caller's body is not changed");
            StubEndpoint.Received r = stub.received().get(0);
            assertEquals("/v1/chat/completions", r.path(), "a base ending in /v1/ is not doubled");
            assertEquals("other", JsonParser.parseString(r.body()).getAsJsonObject().get("model").getAsString());
            assertEquals("Bearer sk-test", r.authorization());

            client.models();
            assertEquals("GET", stub.received().get(1).method());
            assertEquals("/v1/models", stub.received().get(1).path());
        }
    }

    @Test
    void answersOfTheWrongShapeAreRetriedThenNamed() throws IOException {
        // a wrong shape may be an endpoint's hiccup: retried like a 5xx, then named with the body
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, "{\"choices\":[]}"));
             OpenAiClient client = new OpenAiClient(options(stub, 2))) {
            OpenAiException chat = assertThrows(OpenAiException.class, () -> client.chatText(TURNS, 8, 0.0, null));
            assertEquals(200, chat.status());
            assertTrue(chat.getMessage().contains("failed after 3 attempt(s)")
                    && chat.getMessage().contains("wrong shape: no choices[0].message.content"), chat.getMessage());
            assertTrue(chat.getMessage().contains("{\"choices\":[]}"), chat.getMessage());
            assertEquals(3, stub.received().size());
            OpenAiException completion = assertThrows(OpenAiException.class,
                    () -> client.completeText("x", 1, 0.0, null));
            assertTrue(completion.getMessage().contains("wrong shape: no choices[0].text"), completion.getMessage());
        }
    }

    @Test
    void aBodyThatIsNotAJsonObjectIsRetriedThenFailsWithTheStatus() throws IOException {
        // a 2xx body that does not parse is usually one cut short on the way
        for (String body : new String[] {"not json {", "[1, 2]", "\"text\""}) {
            try (StubEndpoint stub = new StubEndpoint(Answer.json(201, body));
                 OpenAiClient client = new OpenAiClient(options(stub, 3))) {
                OpenAiException e = assertThrows(OpenAiException.class, () -> client.chatText(TURNS, 8, 0.0, null));
                assertEquals(201, e.status(), body);
                assertTrue(e.getMessage().contains("not a JSON object"), e.getMessage());
                assertTrue(e.getMessage().contains(body), e.getMessage());
                assertEquals(4, stub.received().size(), "one attempt and three retries: " + body);
            }
        }
    }

    @Test
    void streamingIsRefusedBeforeAnyHttpCall() throws IOException {
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, CHAT_OK));
             OpenAiClient client = new OpenAiClient(options(stub, 0))) {
            JsonObject body = new JsonObject();
            body.addProperty("stream", true);
            assertThrows(IllegalArgumentException.class, () -> client.chat(body));
            assertEquals(0, client.httpCalls());
            assertEquals(List.of(), stub.received());
        }
    }

    @Test
    void atMostConcurrencyRequestsAreInFlight() throws Exception {
        ExecutorService callers = Executors.newFixedThreadPool(6);
        try (StubEndpoint stub = new StubEndpoint(Answer.json(200, COMPLETION_OK).after(100));
             OpenAiClient client = new OpenAiClient(options(stub, 0).withConcurrency(2))) {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                String prompt = "p" + i;
                answers.add(callers.submit(() -> client.completeText(prompt, 1, 0.0, null)));
            }
            for (Future<String> f : answers) {
                assertEquals(" four", f.get());
            }
            assertEquals(6, stub.received().size());
            assertTrue(stub.maxInFlight() <= 2, "in flight at once: " + stub.maxInFlight());
        } finally {
            callers.shutdownNow();
        }
    }
}
