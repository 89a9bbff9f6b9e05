package org.distillery.train;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * An HTTP proxy in front of an OpenAI-compatible server that spoils a share of the
 * {@code /v1/completions} answers: a 503, a timeout (no answer until the client gave up), a body
 * cut in half (sent whole as far as HTTP goes), or a well-formed JSON of the wrong shape. Requests
 * reach the server one at a time, so its answers never depend on how requests were batched.
 */
final class FlakyProxy implements AutoCloseable {

    /** Shares of each fault, drawn per request from a seeded generator. */
    record Faults(double serverError, double timeout, double truncated, double wrongShape) {
        static final Faults NONE = new Faults(0, 0, 0, 0);
    }

    final AtomicInteger requests = new AtomicInteger();
    final AtomicInteger serverErrors = new AtomicInteger();
    final AtomicInteger timeouts = new AtomicInteger();
    final AtomicInteger truncated = new AtomicInteger();
    final AtomicInteger wrongShape = new AtomicInteger();
    final AtomicInteger forwarded = new AtomicInteger();

    private final String upstream;
    private final HttpServer server;
    private final ExecutorService pool = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "flaky-proxy");
        t.setDaemon(true);
        return t;
    });
    private final HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    private final Random random;
    private final long timeoutMillis;
    private volatile Faults faults = Faults.NONE;
    private volatile boolean down;

    /** A proxy to {@code upstream} (its base URL); a timeout holds a request {@code timeoutMillis}. */
    FlakyProxy(String upstream, long seed, long timeoutMillis) throws IOException {
        this.upstream = upstream;
        this.random = new Random(seed);
        this.timeoutMillis = timeoutMillis;
        this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(pool);
        server.start();
    }

    /** The proxy's base URL. */
    String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    void faults(Faults f) {
        this.faults = f;
    }

    /** From now on every completion request gets a 503. */
    void goDown() {
        this.down = true;
    }

    private synchronized double draw() {
        return random.nextDouble();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            byte[] body;
            try (InputStream in = ex.getRequestBody()) {
                body = in.readAllBytes();
            }
            String path = ex.getRequestURI().getPath();
            boolean scoring = path.endsWith("/completions");
            Faults f = faults;
            double r = scoring ? draw() : 1;
            if (scoring) {
                requests.incrementAndGet();
            }
            if (scoring && (down || r < f.serverError())) {
                serverErrors.incrementAndGet();
                send(ex, 503, "{\"error\": {\"message\": \"injected 503\", \"type\": \"server_error\"}}");
                return;
            }
            if (scoring && r < f.serverError() + f.timeout()) {
                timeouts.incrementAndGet();
                sleep(timeoutMillis);
                return; // closes the connection without an answer
            }
            HttpResponse<String> up = forward(ex.getRequestMethod(), path, body);
            String text = up.body();
            if (scoring && up.statusCode() == 200) {
                double t = f.serverError() + f.timeout();
                if (r < t + f.truncated()) {
                    truncated.incrementAndGet();
                    text = text.substring(0, text.length() / 2);
                } else if (r < t + f.truncated() + f.wrongShape()) {
                    wrongShape.incrementAndGet();
                    text = "{\"id\": \"x\", \"object\": \"text_completion\", \"choices\": [{\"index\": 0, \"text\": \"\", "
                            + "\"logprobs\": {\"tokens\": [], \"top_logprobs\": {}}}]}";
                } else {
                    forwarded.incrementAndGet();
                }
            }
            send(ex, up.statusCode(), text);
        }
    }

    /** One upstream request at a time: the server never batches two. */
    private synchronized HttpResponse<String> forward(String method, String path, byte[] body) throws IOException {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(upstream + path))
                .header("Content-Type", "application/json");
        b = method.equals("GET") ? b.GET() : b.method(method, HttpRequest.BodyPublishers.ofByteArray(body));
        try {
            return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    private static void send(HttpExchange ex, int status, String text) throws IOException {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, bytes.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(bytes);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        pool.shutdownNow();
    }
}
