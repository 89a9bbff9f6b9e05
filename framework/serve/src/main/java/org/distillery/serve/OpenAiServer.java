package org.distillery.serve;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonNull;
import com.google.gson.JsonObject;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import ai.djl.ndarray.NDManager;

import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;

/**
 * An OpenAI-compatible HTTP endpoint for one model, on the JDK's {@code com.sun.net.httpserver}:
 * {@code POST /v1/chat/completions}, {@code POST /v1/completions}, {@code GET /v1/models}
 * (and {@code /v1/models/<id>}).
 *
 * <p>Supported request fields: {@code model}, {@code messages} / {@code prompt} (a string, or
 * token ids), {@code max_tokens} ({@code max_completion_tokens}), {@code temperature},
 * {@code top_p}, {@code seed}, {@code stop}, {@code n} (1 only), {@code stream} with
 * {@code stream_options.include_usage}, {@code logprobs} and {@code top_logprobs} (chat), integer
 * {@code logprobs} and {@code echo} (completions; with {@code max_tokens: 0} it scores the prompt),
 * and vLLM's {@code return_tokens_as_token_ids} and {@code ignore_eos}. Reported log-probabilities are the model's own
 * (temperature 1, before top-p), whatever the sampling parameters. {@code GET /v1/models} adds a
 * {@code distillery} object per model with the tokenizer's fingerprint and vocabulary size, so a
 * client can check that its tokenizer is the server's.
 *
 * <p>Concurrent requests are decoded together, by continuous batching ({@link ContinuousScheduler},
 * the default) or in windowed batches ({@link WindowScheduler}); see {@link ServeOptions#scheduling()}.
 * Every refused request gets a 4xx JSON error in OpenAI's shape naming the field at fault; the
 * server goes on serving.
 */
public final class OpenAiServer implements AutoCloseable {

    private static final Gson GSON = new com.google.gson.GsonBuilder().serializeNulls().disableHtmlEscaping().create();

    private final HttpServer http;
    private final ExecutorService handlers;
    private final Scheduler scheduler;
    private final Tokenizer tokenizer;
    private final LanguageModel model;
    private final ServeOptions options;
    private final ServerStats stats = new ServerStats();
    private final ApiKey apiKey;
    private final int context;
    private final long created = System.currentTimeMillis() / 1000;
    private volatile FaultHook faultHook;
    private volatile boolean closed;
    private final AtomicInteger inFlight = new AtomicInteger();

    private OpenAiServer(LanguageModel model, Tokenizer tokenizer, NDManager manager, ServeOptions options)
            throws IOException {
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.context = model.config().maxPositions() > 0 ? model.config().maxPositions() : Integer.MAX_VALUE;
        this.apiKey = options.apiKey() == null ? null : ApiKey.of(options.apiKey());
        Set<Integer> stopIds = new LinkedHashSet<>();
        stopIds.add(tokenizer.eosId());
        Object eos = model.config().raw() == null ? null : model.config().raw().get("eos_token_id");
        if (eos instanceof Number num) {
            stopIds.add(num.intValue());
        } else if (eos instanceof List<?> l) {
            l.stream().filter(Number.class::isInstance).forEach(x -> stopIds.add(((Number) x).intValue()));
        }
        int pad = tokenizer.padId() >= 0 && tokenizer.padId() < model.config().vocabSize() ? tokenizer.padId() : 0;
        BatchDecoder decoder = new BatchDecoder(model, stopIds, pad, stats);
        this.scheduler = Scheduler.start(options, decoder, manager, context, stats);
        AtomicInteger n = new AtomicInteger();
        this.handlers = Executors.newFixedThreadPool(options.handlerThreads(), r -> {
            Thread t = new Thread(r, "distill-serve-http-" + n.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        try {
            this.http = HttpServer.create(new InetSocketAddress(options.host(), options.port()), 128);
        } catch (IOException e) {
            scheduler.close();
            handlers.shutdownNow();
            throw new IOException("cannot listen on " + options.host() + ":" + options.port() + ": " + e.getMessage(), e);
        }
        http.setExecutor(handlers);
        http.createContext("/", this::handle);
        http.start();
    }

    /**
     * Starts serving {@code model} (whose arrays live in {@code manager}; steps use sub-managers of it).
     * The caller keeps ownership of the model and the manager and closes them after the server.
     */
    public static OpenAiServer start(LanguageModel model, Tokenizer tokenizer, NDManager manager, ServeOptions options)
            throws IOException {
        return new OpenAiServer(model, tokenizer, manager, options);
    }

    /** The port it listens on (the chosen one when started with port 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** {@code http://host:port} (IPv6 hosts in brackets). */
    public String baseUrl() {
        String h = options.host().contains(":") ? "[" + options.host() + "]" : options.host();
        return "http://" + h + ":" + port();
    }

    /** Counters: requests, rejections, batches and their sizes, tokens. */
    public ServerStats stats() {
        return stats;
    }

    /** The options it was started with. */
    public ServeOptions options() {
        return options;
    }

    /** The scheduler (tests hold and release it). */
    Scheduler scheduler() {
        return scheduler;
    }

    /** Sets (or with {@code null} clears) the test-only fault hook. */
    public void faultHook(FaultHook hook) {
        this.faultHook = hook;
    }

    /**
     * Refuses new generation requests (503), lets running ones finish for up to the shutdown
     * grace, then stops listening and stops the scheduler. Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        long deadline = System.nanoTime() + options.shutdownGrace().toNanos();
        while (inFlight.get() > 0 && System.nanoTime() < deadline) {
            sleep(10);
        }
        http.stop(0);
        scheduler.close();
        handlers.shutdown();
        try {
            handlers.awaitTermination(options.shutdownGrace().toMillis() + 1000, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        handlers.shutdownNow();
    }

    private void handle(HttpExchange ex) {
        stats.request();
        inFlight.incrementAndGet();
        try (ex) {
            try {
                route(ex);
            } catch (ApiError e) {
                if (e.status < 500) {
                    stats.reject();
                }
                sendError(ex, e);
            } catch (RuntimeException | Error e) {
                sendError(ex, new ApiError(500, "server_error", null, null, "internal error: " + e));
            }
        } catch (IOException e) {
            // the client went away; nothing to answer
        } finally {
            inFlight.decrementAndGet();
        }
    }

    private void route(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        FaultHook hook = faultHook;
        if (hook != null) {
            FaultHook.Fault f = hook.apply(path);
            if (f != null) {
                if (f.delayMillis() > 0) {
                    sleep(f.delayMillis());
                }
                if (f.status() > 0) {
                    if (f.retryAfterSeconds() >= 0) {
                        ex.getResponseHeaders().set("Retry-After", Integer.toString(f.retryAfterSeconds()));
                    }
                    throw new ApiError(f.status(), f.status() == 429 ? "rate_limit_error" : "server_error", null,
                            "injected_fault", "injected fault " + f.status());
                }
            }
        }
        if (path.endsWith("/") && path.length() > 1) {
            path = path.substring(0, path.length() - 1);
        }
        boolean models = path.equals("/v1/models") || path.startsWith("/v1/models/");
        boolean chat = path.equals("/v1/chat/completions");
        boolean completions = path.equals("/v1/completions");
        if (!models && !chat && !completions) {
            throw new ApiError(404, "invalid_request_error", null, "unknown_url", "unknown URL " + ex.getRequestMethod()
                    + " " + path + "; this server answers POST /v1/chat/completions, POST /v1/completions and GET "
                    + "/v1/models");
        }
        authorize(ex);
        String method = ex.getRequestMethod();
        String allowed = models ? "GET" : "POST";
        if (!method.equals(allowed)) {
            ex.getResponseHeaders().set("Allow", allowed);
            throw new ApiError(405, "invalid_request_error", null, "method_not_allowed", "method " + method
                    + " is not allowed on " + path + "; use " + allowed);
        }
        if (models) {
            listModels(ex, path);
            return;
        }
        if (closed) {
            throw new ApiError(503, "server_error", null, null, "the server is shutting down");
        }
        JsonObject body = Request.parseObject(readBody(ex));
        if (!Request.present(body, "model")) {
            throw ApiError.missing("model", "the model id, '" + options.modelName() + "' on this server");
        }
        if (!body.get("model").isJsonPrimitive() || !body.get("model").getAsJsonPrimitive().isString()) {
            throw ApiError.invalid("model", "'model' must be a string (got " + Request.kind(body.get("model")) + ")");
        }
        String name = body.get("model").getAsString();
        if (!name.equals(options.modelName())) {
            throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "the model '" + name
                    + "' does not exist; this server serves '" + options.modelName() + "'");
        }
        Request req = Request.of(body, chat, tokenizer, options, context, model.config().vocabSize());
        generate(ex, req);
    }

    private void authorize(HttpExchange ex) {
        if (apiKey == null) {
            return;
        }
        String h = ex.getRequestHeaders().getFirst("Authorization");
        if (h == null || !h.regionMatches(true, 0, "Bearer ", 0, 7)) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "missing API key: send the header "
                    + "'Authorization: Bearer <key>'");
        }
        if (!apiKey.matches(h.substring(7).trim())) {
            throw new ApiError(401, "invalid_request_error", null, "invalid_api_key", "incorrect API key");
        }
    }

    private String readBody(HttpExchange ex) throws IOException {
        long limit = options.maxBodyBytes();
        String declared = ex.getRequestHeaders().getFirst("Content-Length");
        if (declared != null) {
            try {
                if (Long.parseLong(declared.trim()) > limit) {
                    throw tooLarge(Long.parseLong(declared.trim()));
                }
            } catch (NumberFormatException e) {
                throw new ApiError(400, "invalid_request_error", null, null, "bad Content-Length: " + declared);
            }
        }
        try (InputStream in = ex.getRequestBody()) {
            byte[] data = in.readNBytes((int) Math.min(Integer.MAX_VALUE - 8, limit + 1));
            if (data.length > limit) {
                throw tooLarge(-1);
            }
            return new String(data, StandardCharsets.UTF_8);
        }
    }

    private ApiError tooLarge(long size) {
        return new ApiError(413, "invalid_request_error", null, "request_too_large", "the request body "
                + (size >= 0 ? "(" + size + " bytes) " : "") + "is larger than this server's limit of "
                + options.maxBodyBytes() + " bytes");
    }

    private void listModels(HttpExchange ex, String path) throws IOException {
        JsonObject m = new JsonObject();
        m.addProperty("id", options.modelName());
        m.addProperty("object", "model");
        m.addProperty("created", created);
        m.addProperty("owned_by", "distillery");
        JsonObject d = new JsonObject();
        d.addProperty("tokenizer_fingerprint", tokenizer.fingerprint());
        d.addProperty("vocab_size", model.config().vocabSize());
        d.addProperty("tokenizer_vocab_size", tokenizer.vocabSize());
        d.addProperty("context_length", model.config().maxPositions());
        d.addProperty("model_type", model.config().modelType());
        if (tokenizer.bosId().isPresent()) {
            d.addProperty("bos_token_id", tokenizer.bosId().getAsInt());
        }
        d.addProperty("eos_token_id", tokenizer.eosId());
        m.add("distillery", d);
        if (path.startsWith("/v1/models/")) {
            String id = path.substring("/v1/models/".length());
            if (!id.equals(options.modelName())) {
                throw new ApiError(404, "invalid_request_error", "model", "model_not_found", "the model '" + id
                        + "' does not exist; this server serves '" + options.modelName() + "'");
            }
            sendJson(ex, 200, m);
            return;
        }
        JsonObject list = new JsonObject();
        list.addProperty("object", "list");
        JsonArray data = new JsonArray();
        data.add(m);
        list.add("data", data);
        sendJson(ex, 200, list);
    }

    private void generate(HttpExchange ex, Request req) throws IOException {
        String id = (req.chat() ? "chatcmpl-" : "cmpl-") + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
        PromptScores echoScores = null;
        if (req.echo() && req.logprobs()) {
            CompletableFuture<PromptScores> f = new CompletableFuture<>();
            scheduler.submit(new Scheduler.Score(req.prompt(), req.topLogprobs(), f));
            try {
                echoScores = f.get();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new ApiError(503, "server_error", null, null, "interrupted");
            } catch (ExecutionException e) {
                throw failure(e.getCause());
            }
        }
        RequestRow row = new RequestRow(tokenizer, req.stop());
        if (req.maxTokens() > 0) {
            scheduler.submit(new Scheduler.Decode(new DecodeRow(req.prompt(), req.maxTokens(), req.temperature(),
                    req.topP(), new SplittableRandom(req.seed()), req.logprobs() ? req.topLogprobs() : 0, req.ignoreEos(), row)));
        } else {
            row.finish("length");
        }
        if (req.stream()) {
            stream(ex, req, id, row, echoScores);
        } else {
            complete(ex, req, id, row, echoScores);
        }
    }

    private static ApiError failure(Throwable e) {
        if (e instanceof IllegalStateException && e.getMessage() != null && e.getMessage().contains("shutting down")) {
            return new ApiError(503, "server_error", null, null, e.getMessage());
        }
        return new ApiError(500, "server_error", null, null, "generation failed: " + e);
    }

    private RequestRow.Event take(RequestRow row) {
        try {
            return row.events.take();
        } catch (InterruptedException e) {
            row.cancel();
            Thread.currentThread().interrupt();
            throw new ApiError(503, "server_error", null, null, "interrupted");
        }
    }

    private void complete(HttpExchange ex, Request req, String id, RequestRow row, PromptScores echo)
            throws IOException {
        StringBuilder text = new StringBuilder();
        List<RequestRow.Entry> entries = new ArrayList<>();
        String finish;
        while (true) {
            RequestRow.Event e = take(row);
            if (e.error() != null) {
                throw failure(e.error());
            }
            text.append(e.text());
            if (e.entry() != null) {
                entries.add(e.entry());
            }
            if (e.finishReason() != null) {
                finish = e.finishReason();
                break;
            }
        }
        stats.tokens(entries.size());
        JsonObject choice = new JsonObject();
        choice.addProperty("index", 0);
        if (req.chat()) {
            JsonObject msg = new JsonObject();
            msg.addProperty("role", "assistant");
            msg.addProperty("content", text.toString());
            choice.add("message", msg);
            choice.add("logprobs", req.logprobs() ? chatLogprobs(entries, req) : JsonNull.INSTANCE);
        } else {
            String prefix = req.echo() ? tokenizer.decode(req.prompt()) : "";
            choice.addProperty("text", prefix + text);
            choice.add("logprobs", req.logprobs() ? completionLogprobs(entries, req, echo) : JsonNull.INSTANCE);
        }
        choice.addProperty("finish_reason", finish);
        JsonObject out = envelope(req, id, false);
        JsonArray choices = new JsonArray();
        choices.add(choice);
        out.add("choices", choices);
        out.add("usage", usage(req.prompt().length, entries.size()));
        sendJson(ex, 200, out);
    }

    private void stream(HttpExchange ex, Request req, String id, RequestRow row, PromptScores echo) throws IOException {
        ex.getResponseHeaders().set("Content-Type", "text/event-stream; charset=utf-8");
        ex.getResponseHeaders().set("Cache-Control", "no-cache");
        ex.sendResponseHeaders(200, 0);
        OutputStream out = ex.getResponseBody();
        int generated = 0;
        try {
            if (req.chat()) {
                JsonObject delta = new JsonObject();
                delta.addProperty("role", "assistant");
                delta.addProperty("content", "");
                sse(out, chunk(req, id, delta, null, null));
            } else if (req.echo()) {
                sse(out, chunk(req, id, textDelta(tokenizer.decode(req.prompt())), null,
                        req.logprobs() ? completionLogprobs(List.of(), req, echo) : null));
            }
            while (true) {
                RequestRow.Event e = take(row);
                if (e.error() != null) {
                    JsonObject err = ApiError.body(failure(e.error()).getMessage(), "server_error", null, null);
                    sse(out, err);
                    break;
                }
                if (e.entry() != null) {
                    generated++;
                }
                boolean finished = e.finishReason() != null;
                if (!e.text().isEmpty() || e.entry() != null || finished) {
                    JsonObject lp = null;
                    if (req.logprobs() && e.entry() != null) {
                        lp = req.chat() ? chatLogprobs(List.of(e.entry()), req)
                                : completionLogprobs(List.of(e.entry()), req, null);
                    }
                    JsonObject delta = req.chat() ? contentDelta(e.text()) : textDelta(e.text());
                    sse(out, chunk(req, id, delta, e.finishReason(), lp));
                }
                if (finished) {
                    break;
                }
            }
            stats.tokens(generated);
            if (req.includeUsage()) {
                JsonObject last = envelope(req, id, true);
                last.add("choices", new JsonArray());
                last.add("usage", usage(req.prompt().length, generated));
                sse(out, last);
            }
            out.write("data: [DONE]\n\n".getBytes(StandardCharsets.UTF_8));
            out.flush();
        } catch (IOException e) {
            row.cancel();
            throw e;
        }
    }

    private static JsonObject contentDelta(String text) {
        JsonObject d = new JsonObject();
        d.addProperty("content", text);
        return d;
    }

    private static JsonObject textDelta(String text) {
        JsonObject d = new JsonObject();
        d.addProperty("text", text);
        return d;
    }

    private JsonObject chunk(Request req, String id, JsonObject delta, String finish, JsonObject logprobs) {
        JsonObject c = envelope(req, id, true);
        JsonObject choice = new JsonObject();
        choice.addProperty("index", 0);
        if (req.chat()) {
            choice.add("delta", delta);
        } else {
            choice.add("text", delta.get("text"));
        }
        choice.add("logprobs", logprobs == null ? JsonNull.INSTANCE : logprobs);
        if (finish == null) {
            choice.add("finish_reason", JsonNull.INSTANCE);
        } else {
            choice.addProperty("finish_reason", finish);
        }
        JsonArray choices = new JsonArray();
        choices.add(choice);
        c.add("choices", choices);
        return c;
    }

    private JsonObject envelope(Request req, String id, boolean chunk) {
        JsonObject o = new JsonObject();
        o.addProperty("id", id);
        o.addProperty("object", req.chat() ? (chunk ? "chat.completion.chunk" : "chat.completion") : "text_completion");
        o.addProperty("created", System.currentTimeMillis() / 1000);
        o.addProperty("model", options.modelName());
        o.addProperty("system_fingerprint", "distillery");
        return o;
    }

    private static JsonObject usage(int prompt, int completion) {
        JsonObject u = new JsonObject();
        u.addProperty("prompt_tokens", prompt);
        u.addProperty("completion_tokens", completion);
        u.addProperty("total_tokens", prompt + completion);
        return u;
    }

    private String tokenText(int id, boolean asIds) {
        return asIds ? "token_id:" + id : tokenizer.decode(new int[] {id});
    }

    private JsonObject chatLogprobs(List<RequestRow.Entry> entries, Request req) {
        JsonArray content = new JsonArray();
        for (RequestRow.Entry e : entries) {
            JsonObject c = tokenLogprob(e.id(), e.logProb(), req.tokenIds());
            JsonArray top = new JsonArray();
            for (int j = 0; j < e.topIds().length; j++) {
                top.add(tokenLogprob(e.topIds()[j], e.topLogProbs()[j], req.tokenIds()));
            }
            c.add("top_logprobs", top);
            content.add(c);
        }
        JsonObject o = new JsonObject();
        o.add("content", content);
        o.add("refusal", JsonNull.INSTANCE);
        return o;
    }

    private JsonObject tokenLogprob(int id, float logProb, boolean asIds) {
        String s = tokenText(id, asIds);
        JsonObject o = new JsonObject();
        o.addProperty("token", s);
        o.addProperty("logprob", logProb);
        JsonArray bytes = new JsonArray();
        for (byte b : s.getBytes(StandardCharsets.UTF_8)) {
            bytes.add(b & 0xff);
        }
        o.add("bytes", bytes);
        return o;
    }

    /** Completions format; with {@code echo}, the prompt's tokens come first (the very first without a value). */
    private JsonObject completionLogprobs(List<RequestRow.Entry> entries, Request req, PromptScores echo) {
        JsonArray tokens = new JsonArray();
        JsonArray tokenLps = new JsonArray();
        JsonArray tops = new JsonArray();
        JsonArray offsets = new JsonArray();
        int offset = 0;
        if (echo != null) {
            int[] p = req.prompt();
            for (int t = 0; t < p.length; t++) {
                String s = tokenText(p[t], req.tokenIds());
                tokens.add(s);
                offsets.add(offset);
                offset += req.tokenIds() ? 0 : s.length();
                if (t == 0) {
                    tokenLps.add(JsonNull.INSTANCE);
                    tops.add(JsonNull.INSTANCE);
                } else {
                    tokenLps.add(echo.logProbs()[t - 1]);
                    tops.add(topMap(echo.topIds()[t - 1], echo.topLogProbs()[t - 1], req.tokenIds()));
                }
            }
        }
        for (RequestRow.Entry e : entries) {
            String s = tokenText(e.id(), req.tokenIds());
            tokens.add(s);
            offsets.add(offset);
            offset += req.tokenIds() ? 0 : s.length();
            tokenLps.add(e.logProb());
            tops.add(topMap(e.topIds(), e.topLogProbs(), req.tokenIds()));
        }
        JsonObject o = new JsonObject();
        o.add("tokens", tokens);
        o.add("token_logprobs", tokenLps);
        o.add("top_logprobs", tops);
        o.add("text_offset", offsets);
        return o;
    }

    /** Token text to log-probability, best first; of tokens with the same text the likelier one is kept. */
    private JsonObject topMap(int[] ids, float[] lps, boolean asIds) {
        JsonObject m = new JsonObject();
        for (int j = 0; j < ids.length; j++) {
            String s = tokenText(ids[j], asIds);
            if (!m.has(s)) {
                m.addProperty(s, lps[j]);
            }
        }
        return m;
    }

    private static void sse(OutputStream out, JsonObject o) throws IOException {
        out.write(("data: " + GSON.toJson(o) + "\n\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    private static void sendJson(HttpExchange ex, int status, JsonObject body) throws IOException {
        byte[] b = GSON.toJson(body).getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }

    private static void sendError(HttpExchange ex, ApiError e) throws IOException {
        if (ex.getResponseCode() != -1) {
            return;
        }
        sendJson(ex, e.status, e.body());
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
