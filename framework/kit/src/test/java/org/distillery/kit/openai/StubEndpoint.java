package org.distillery.kit.openai;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentLinkedDeque;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

/**
 * A scripted HTTP endpoint on the loopback interface: each request takes the next answer of the
 * script (the last one answers every request after it) and is recorded, so that a test sees
 * exactly what the client sent and how often.
 */
final class StubEndpoint implements AutoCloseable {

    /** One scripted answer: status, body, extra headers, and how long to wait before answering. */
    record Answer(int status, String body, Map<String, String> headers, long delayMillis) {
        static Answer json(int status, String body) {
            return new Answer(status, body, Map.of(), 0);
        }

        Answer withHeader(String name, String value) {
            Map<String, String> h = new java.util.HashMap<>(headers);
            h.put(name, value);
            return new Answer(status, body, h, delayMillis);
        }

        Answer after(long millis) {
            return new Answer(status, body, headers, millis);
        }
    }

    /** One request as the endpoint received it. */
    record Received(String method, String path, String body, String contentType, String authorization) {
    }

    private final HttpServer server;
    private final ExecutorService threads = Executors.newCachedThreadPool();
    private final ConcurrentLinkedDeque<Answer> script = new ConcurrentLinkedDeque<>();
    private final List<Received> received = Collections.synchronizedList(new ArrayList<>());
    private final AtomicInteger inFlight = new AtomicInteger();
    private final AtomicInteger maxInFlight = new AtomicInteger();

    StubEndpoint(Answer... answers) throws IOException {
        script.addAll(List.of(answers));
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(threads);
        server.start();
    }

    /** The endpoint's base URL, e.g. {@code http://127.0.0.1:41234}. */
    URI uri() {
        return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
    }

    /** Requests received so far, in order. */
    List<Received> received() {
        synchronized (received) {
            return List.copyOf(received);
        }
    }

    /** The most requests that were being answered at the same time. */
    int maxInFlight() {
        return maxInFlight.get();
    }

    private void handle(HttpExchange exchange) throws IOException {
        int now = inFlight.incrementAndGet();
        maxInFlight.accumulateAndGet(now, Math::max);
        try {
            String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
            received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().getPath(), body,
                    exchange.getRequestHeaders().getFirst("Content-Type"),
                    exchange.getRequestHeaders().getFirst("Authorization")));
            Answer a = script.size() > 1 ? script.poll() : script.peek();
            if (a.delayMillis() > 0) {
                Thread.sleep(a.delayMillis());
            }
            a.headers().forEach((k, v) -> exchange.getResponseHeaders().set(k, v));
            exchange.getResponseHeaders().set("Content-Type", "application/json");
            byte[] bytes = a.body().getBytes(StandardCharsets.UTF_8);
            exchange.sendResponseHeaders(a.status(), bytes.length == 0 ? -1 : bytes.length);
            exchange.getResponseBody().write(bytes);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (IOException e) {
            // the client gave up on this request (a timeout test): nothing to answer
        } finally {
            inFlight.decrementAndGet();
            exchange.close();
        }
    }

    @Override
    public void close() {
        server.stop(0);
        threads.shutdownNow();
    }
}
