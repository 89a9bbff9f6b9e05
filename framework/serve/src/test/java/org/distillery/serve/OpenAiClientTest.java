package org.distillery.serve;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.ServerSocket;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.gson.JsonObject;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.openai.ClientOptions;
import org.distillery.kit.openai.OpenAiClient;
import org.distillery.kit.openai.OpenAiException;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.models.tokenizer.ChatTemplates;
import org.distillery.serve.FaultHook;
import org.distillery.serve.OpenAiServer;
import org.distillery.serve.ServeOptions;
import org.distillery.teachers.remote.RemoteTeacher;
import org.distillery.tensor.DjlTensorService;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OpenAiClientTest {

    private static DjlTensorService tensors;
    private static NDManager manager;
    private static LanguageModel model;
    private static OpenAiServer server;

    @TempDir
    Path tmp;

    @BeforeAll
    static void start() throws Exception {
        tensors = DjlTensorService.start("cpu");
        manager = tensors.newRunScope("client-test");
        model = org.distillery.serve.TestModels.model(manager, 3);
        server = OpenAiServer.start(model, new ByteTokenizer(), manager, ServeOptions.defaults("tiny"));
    }

    @AfterAll
    static void stop() {
        server.close();
        model.close();
        manager.close();
        tensors.close();
    }

    @AfterEach
    void clearFaults() {
        server.faultHook(null);
    }

    private ClientOptions options() {
        return ClientOptions.of(URI.create(server.baseUrl()), "tiny").withRetries(3, Duration.ofMillis(10),
                Duration.ofMillis(50)).withTimeout(Duration.ofSeconds(20));
    }

    private static JsonObject body(String prompt) {
        JsonObject b = new JsonObject();
        b.addProperty("prompt", prompt);
        b.addProperty("max_tokens", 4);
        b.addProperty("temperature", 0);
        return b;
    }

    @Test
    void retriesOn429And503HonouringRetryAfter() {
        AtomicInteger seen = new AtomicInteger();
        server.faultHook(path -> switch (seen.incrementAndGet()) {
            case 1 -> new FaultHook.Fault(429, 1, 0);
            case 2 -> new FaultHook.Fault(503, -1, 0);
            default -> null;
        });
        try (OpenAiClient c = new OpenAiClient(options())) {
            long t0 = System.nanoTime();
            JsonObject r = c.complete(body("retry me"));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertEquals("text_completion", r.get("object").getAsString());
            assertEquals(3, c.httpCalls());
            assertEquals(2, c.retries());
            assertTrue(ms >= 950, "Retry-After: 1 was not honoured (" + ms + " ms)");
        }
    }

    @Test
    void givesUpAfterMaxRetriesNamingTheLastError() {
        server.faultHook(path -> new FaultHook.Fault(503, -1, 0));
        try (OpenAiClient c = new OpenAiClient(options().withRetries(2, Duration.ofMillis(5), Duration.ofMillis(20)))) {
            OpenAiException e = assertThrows(OpenAiException.class, () -> c.complete(body("x")));
            assertEquals(503, e.status());
            assertEquals(3, c.httpCalls());
            assertTrue(e.getMessage().contains("3 attempt(s)") && e.getMessage().contains("503"), e.getMessage());
        }
    }

    @Test
    void clientErrorsAreNotRetried() {
        try (OpenAiClient c = new OpenAiClient(options())) {
            JsonObject b = body("x");
            b.addProperty("model", "nope");
            OpenAiException e = assertThrows(OpenAiException.class, () -> c.complete(b));
            assertEquals(404, e.status());
            assertEquals("model_not_found", e.code());
            assertEquals(1, c.httpCalls());
        }
    }

    @Test
    void timesOutAndRetries() {
        server.faultHook(path -> new FaultHook.Fault(0, -1, 1500));
        try (OpenAiClient c = new OpenAiClient(options().withTimeout(Duration.ofMillis(200))
                .withRetries(1, Duration.ofMillis(5), Duration.ofMillis(5)))) {
            long t0 = System.nanoTime();
            OpenAiException e = assertThrows(OpenAiException.class, () -> c.complete(body("slow")));
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(e.getMessage().contains("timed out"), e.getMessage());
            assertEquals(-1, e.status());
            assertEquals(2, c.httpCalls());
            assertTrue(ms < 1400, "took " + ms + " ms");
        }
    }

    @Test
    void connectionErrorsAreRetried() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        try (OpenAiClient c = new OpenAiClient(ClientOptions.of(URI.create("http://127.0.0.1:" + port), "tiny")
                .withRetries(1, Duration.ofMillis(5), Duration.ofMillis(5)))) {
            OpenAiException e = assertThrows(OpenAiException.class, () -> c.complete(body("x")));
            assertTrue(e.getMessage().contains("connect"), e.getMessage());
            assertEquals(2, c.httpCalls());
        }
    }

    @Test
    void aReRunIsAnsweredFromTheCacheWithoutHttpCalls() throws Exception {
        Path cache = tmp.resolve("cache");
        JsonObject first;
        try (OpenAiClient c = new OpenAiClient(options().withCache(cache))) {
            first = c.complete(body("cache me"));
            assertEquals(1, c.httpCalls());
        }
        long files;
        try (var s = Files.walk(cache)) {
            files = s.filter(p -> p.toString().endsWith(".json")).count();
        }
        assertEquals(1, files);
        long before = server.stats().httpRequests();
        try (OpenAiClient again = new OpenAiClient(options().withCache(cache))) {
            JsonObject second = again.complete(body("cache me"));
            assertEquals(first, second);
            assertEquals(0, again.httpCalls());
            assertEquals(1, again.cacheHits());
            again.complete(body("not cached yet"));
            assertEquals(1, again.httpCalls());
        }
        assertEquals(before + 1, server.stats().httpRequests());
    }

    @Test
    void chatTextAndCompleteTextReturnTheGeneratedText() {
        try (OpenAiClient c = new OpenAiClient(options())) {
            String a = c.chatText(List.of(new Tokenizer.ChatTurn("user", "hello")), 5, 0.0, 1L);
            String b = c.chatText(List.of(new Tokenizer.ChatTurn("user", "hello")), 5, 0.0, 1L);
            assertEquals(a, b);
            c.completeText("once upon", 3, 0.8, 9L);
        }
    }

    @Test
    void grayBoxTopKEqualsTheModelsOwnTopK() {
        int k = 5;
        int[][] rows = {{257, 104, 101, 108, 108, 111, 32, 119}, {257, 97, 98, 99}};
        int len = 7;
        long[] input = new long[rows.length * len];
        long[] targets = new long[rows.length * len];
        float[] mask = new float[rows.length * len];
        float[] loss = new float[rows.length * len];
        for (int i = 0; i < rows.length; i++) {
            for (int t = 0; t + 1 < rows[i].length; t++) {
                input[i * len + t] = rows[i][t];
                targets[i * len + t] = rows[i][t + 1];
                mask[i * len + t] = 1;
                loss[i * len + t] = 1;
            }
        }
        try (NDManager m = manager.newSubManager();
             RemoteTeacher teacher = new RemoteTeacher(new OpenAiClient(options()), k)) {
            TokenBatch batch = new TokenBatch(m.create(input, new Shape(rows.length, len)),
                    m.create(mask, new Shape(rows.length, len)), m.create(targets, new Shape(rows.length, len)),
                    m.create(loss, new Shape(rows.length, len)), m.create(new int[] {1, 1}));
            TeacherOutput out = teacher.score(batch, false, m);
            assertEquals(null, out.logits());
            assertEquals(new Shape(rows.length, len, k), out.topIds().getShape());
            assertEquals(new Shape(rows.length, len), out.restLogMass().getShape());
            long[] ids = out.topIds().toLongArray();
            float[] lps = out.topLogProbs().toFloatArray();
            float[] rest = out.restLogMass().toFloatArray();
            float[] logits = model.forward(batch.inputIds(), ForwardOptions.inference().withMask(batch.attentionMask()))
                    .logits().logSoftmax(-1).toFloatArray();
            int v = org.distillery.serve.TestModels.VOCAB;
            for (int i = 0; i < rows.length; i++) {
                for (int t = 0; t < len; t++) {
                    int p = i * len + t;
                    if (t + 1 >= rows[i].length) {
                        assertEquals(0, ids[p * k]);
                        assertEquals(0f, lps[p * k]);
                        assertEquals(-RemoteTeacher.FLOOR, rest[p]);
                        continue;
                    }
                    double mass = 0;
                    float[] row = java.util.Arrays.copyOfRange(logits, p * v, (p + 1) * v);
                    int[] want = topK(row, k);
                    for (int j = 0; j < k; j++) {
                        assertEquals(want[j], ids[p * k + j], "row " + i + " position " + t + " rank " + j);
                        assertEquals(row[want[j]], lps[p * k + j], 1e-4);
                        mass += Math.exp(row[want[j]]);
                    }
                    assertEquals(Math.log(1 - mass), rest[p], 1e-3);
                }
            }
        }
    }

    private static int[] topK(float[] row, int k) {
        Integer[] idx = new Integer[row.length];
        for (int i = 0; i < idx.length; i++) {
            idx[i] = i;
        }
        java.util.Arrays.sort(idx, (a, b) -> Float.compare(row[b], row[a]));
        int[] out = new int[k];
        for (int i = 0; i < k; i++) {
            out[i] = idx[i];
        }
        return out;
    }

    @Test
    void aTeacherWithAnotherTokenizerIsRefusedNamingTeacherParams() {
        try (OpenAiClient c = new OpenAiClient(options())) {
            RemoteTeacher.checkTokenizer(c, "tiny", new ByteTokenizer(), "test");
            Tokenizer other = new ByteTokenizer(List.of("<pad>", "<bos>", "<eos>", "<sep>"), "<pad>", "<bos>", "<eos>",
                    ChatTemplates.DEFAULT);
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> RemoteTeacher.checkTokenizer(c, "tiny", other, "other-tok"));
            assertTrue(e.getMessage().startsWith("teacher.params.model"), e.getMessage());
            assertTrue(e.getMessage().contains("other-tok"), e.getMessage());
            InvalidConfigException missing = assertThrows(InvalidConfigException.class,
                    () -> RemoteTeacher.checkTokenizer(c, "absent", new ByteTokenizer(), "test"));
            assertTrue(missing.getMessage().contains("tiny"), missing.getMessage());
        }
    }
}
