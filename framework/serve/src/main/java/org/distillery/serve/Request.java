package org.distillery.serve;

import java.io.IOException;
import java.io.StringReader;
import java.util.ArrayList;
import java.util.List;

import com.google.gson.Gson;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonPrimitive;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import org.distillery.api.model.Tokenizer;

/**
 * A validated generation request of either endpoint.
 *
 * @param chat true for {@code /v1/chat/completions}
 * @param prompt prompt ids as fed to the model (bos first when the tokenizer has one and the prompt was text)
 * @param maxTokens new tokens at most
 * @param temperature 0 for greedy
 * @param topP nucleus mass
 * @param seed the sampling seed (random when the request gives none)
 * @param stop stop strings (at most 4)
 * @param stream answer as server-sent events
 * @param includeUsage streaming: send a last chunk with the usage
 * @param logprobs report log-probabilities of the chosen tokens
 * @param topLogprobs alternatives per token
 * @param echo completions: repeat the prompt (and its log-probabilities) before the completion
 * @param ignoreEos decode past end-of-sequence (vLLM's extension, for benchmarks)
 * @param tokenIds render tokens as {@code token_id:<id>} (vLLM's extension), so ids survive the round trip
 */
record Request(boolean chat, int[] prompt, int maxTokens, float temperature, float topP, long seed, List<String> stop,
               boolean stream, boolean includeUsage, boolean logprobs, int topLogprobs, boolean echo, boolean ignoreEos,
               boolean tokenIds) {

    private static final Gson GSON = new Gson();

    /** Parses a JSON object strictly (no comments, no unquoted names, nothing after it). */
    static JsonObject parseObject(String body) {
        JsonElement e;
        try (JsonReader r = new JsonReader(new StringReader(body))) {
            r.setStrictness(Strictness.STRICT);
            e = GSON.getAdapter(JsonElement.class).read(r);
            if (r.peek() != JsonToken.END_DOCUMENT) {
                throw new ApiError(400, "invalid_request_error", null, "invalid_json",
                        "the body is not valid JSON: unexpected content after the top-level value at " + r.getPath());
            }
        } catch (IOException | RuntimeException ex) {
            if (ex instanceof ApiError a) {
                throw a;
            }
            String why = ex.getMessage() == null ? ex.getClass().getSimpleName() : ex.getMessage();
            int see = why.indexOf("\nSee ");
            throw new ApiError(400, "invalid_request_error", null, "invalid_json", "the body is not valid JSON: "
                    + (see >= 0 ? why.substring(0, see) : why));
        }
        if (e == null || !e.isJsonObject()) {
            throw new ApiError(400, "invalid_request_error", null, "invalid_json",
                    "the body must be a JSON object (got " + (e == null ? "nothing" : kind(e)) + ")");
        }
        return e.getAsJsonObject();
    }

    /** Reads and checks the fields of a chat or completions body. */
    static Request of(JsonObject o, boolean chat, Tokenizer tok, ServeOptions opts, int context, int vocab) {
        int n = intField(o, "n", 1, 1, 1);
        assert n == 1;
        boolean stream = boolField(o, "stream", false);
        boolean includeUsage = false;
        if (present(o, "stream_options")) {
            JsonObject so = objectField(o, "stream_options");
            includeUsage = boolField(so, "include_usage", false);
        }
        boolean logprobs;
        int top;
        boolean echo = false;
        int[] prompt;
        if (chat) {
            prompt = chatPrompt(o, tok);
            logprobs = boolField(o, "logprobs", false);
            top = intField(o, "top_logprobs", 0, ServeOptions.MAX_TOP_LOGPROBS, 0);
            if (top > 0 && !logprobs) {
                throw ApiError.invalid("top_logprobs", "'top_logprobs' needs 'logprobs': true");
            }
        } else {
            prompt = completionPrompt(o, tok, vocab);
            logprobs = present(o, "logprobs");
            top = intField(o, "logprobs", 0, ServeOptions.MAX_TOP_LOGPROBS, 0);
            echo = boolField(o, "echo", false);
        }
        String promptParam = chat ? "messages" : "prompt";
        if (prompt.length == 0) {
            throw ApiError.invalid(promptParam, "'" + promptParam + "' encodes to no tokens");
        }
        if (prompt.length > opts.maxPromptTokens()) {
            throw new ApiError(400, "invalid_request_error", promptParam, "context_length_exceeded", "the prompt has "
                    + prompt.length + " tokens, more than this server's limit of " + opts.maxPromptTokens());
        }
        if (prompt.length >= context && !(echo && present(o, "max_tokens") && o.get("max_tokens").isJsonPrimitive()
                && o.get("max_tokens").getAsJsonPrimitive().isNumber() && o.get("max_tokens").getAsInt() == 0
                && prompt.length <= context)) {
            throw new ApiError(400, "invalid_request_error", promptParam, "context_length_exceeded", "the prompt has "
                    + prompt.length + " tokens; the model's context is " + context + " tokens");
        }
        String budgetField = chat && present(o, "max_completion_tokens") ? "max_completion_tokens" : "max_tokens";
        int minTokens = chat ? 1 : 0;
        int maxTokens;
        if (present(o, budgetField)) {
            maxTokens = intField(o, budgetField, minTokens, Integer.MAX_VALUE, 0);
            if (maxTokens > opts.maxTokensPerRequest()) {
                throw new ApiError(400, "invalid_request_error", budgetField, "too_many_tokens", "'" + budgetField
                        + "' is " + maxTokens + ", more than this server's limit of " + opts.maxTokensPerRequest());
            }
            if (prompt.length + maxTokens > context) {
                throw new ApiError(400, "invalid_request_error", budgetField, "context_length_exceeded",
                        "the prompt (" + prompt.length + " tokens) plus '" + budgetField + "' (" + maxTokens
                                + ") exceeds the model's context of " + context + " tokens");
            }
        } else {
            maxTokens = Math.min(Math.min(opts.defaultMaxTokens(), opts.maxTokensPerRequest()), context - prompt.length);
        }
        float temperature = floatField(o, "temperature", 0f, 2f, 1f);
        float topP = floatField(o, "top_p", 0f, 1f, 1f);
        if (topP == 0f) {
            throw ApiError.invalid("top_p", "'top_p' must be in (0, 1] (got 0)");
        }
        long seed = present(o, "seed") ? longField(o, "seed") : System.nanoTime();
        List<String> stop = stopField(o);
        boolean tokenIds = boolField(o, "return_tokens_as_token_ids", false);
        boolean ignoreEos = boolField(o, "ignore_eos", false);
        return new Request(chat, prompt, maxTokens, temperature, topP, seed, stop, stream, includeUsage, logprobs, top,
                echo, ignoreEos, tokenIds);
    }

    private static int[] chatPrompt(JsonObject o, Tokenizer tok) {
        if (!present(o, "messages")) {
            throw ApiError.missing("messages", "a non-empty array of {role, content} messages");
        }
        if (!o.get("messages").isJsonArray() || o.getAsJsonArray("messages").isEmpty()) {
            throw ApiError.invalid("messages", "'messages' must be a non-empty array of {role, content} messages (got "
                    + kind(o.get("messages")) + ")");
        }
        JsonArray msgs = o.getAsJsonArray("messages");
        List<Tokenizer.ChatTurn> turns = new ArrayList<>();
        for (int i = 0; i < msgs.size(); i++) {
            String where = "messages[" + i + "]";
            if (!msgs.get(i).isJsonObject()) {
                throw ApiError.invalid(where, "'" + where + "' must be an object (got " + kind(msgs.get(i)) + ")");
            }
            JsonObject m = msgs.get(i).getAsJsonObject();
            if (!present(m, "role") || !isString(m.get("role"))) {
                throw ApiError.invalid(where + ".role", "'" + where + ".role' must be one of system, developer, user, "
                        + "assistant");
            }
            String role = m.get("role").getAsString();
            switch (role) {
                case "system", "developer", "user", "assistant" -> { }
                default -> throw ApiError.invalid(where + ".role", "'" + where + ".role' is '" + role
                        + "'; accepted: system, developer, user, assistant");
            }
            turns.add(new Tokenizer.ChatTurn(role.equals("developer") ? "system" : role, content(m, where)));
        }
        return withBos(tok.encode(tok.applyChatTemplate(turns, true)), tok);
    }

    private static String content(JsonObject m, String where) {
        JsonElement c = m.get("content");
        if (c == null || c.isJsonNull()) {
            throw ApiError.missing(where + ".content", "the message text");
        }
        if (isString(c)) {
            return c.getAsString();
        }
        if (c.isJsonArray()) {
            StringBuilder sb = new StringBuilder();
            for (int j = 0; j < c.getAsJsonArray().size(); j++) {
                JsonElement part = c.getAsJsonArray().get(j);
                if (!part.isJsonObject() || !present(part.getAsJsonObject(), "type")
                        || !"text".equals(part.getAsJsonObject().get("type").getAsString())
                        || !isString(part.getAsJsonObject().get("text"))) {
                    throw ApiError.invalid(where + ".content[" + j + "]", "'" + where + ".content[" + j
                            + "]' must be {\"type\": \"text\", \"text\": \"...\"} (only text is supported)");
                }
                sb.append(part.getAsJsonObject().get("text").getAsString());
            }
            return sb.toString();
        }
        throw ApiError.invalid(where + ".content", "'" + where + ".content' must be a string or an array of text parts "
                + "(got " + kind(c) + ")");
    }

    private static int[] completionPrompt(JsonObject o, Tokenizer tok, int vocab) {
        if (!present(o, "prompt")) {
            throw ApiError.missing("prompt", "a string, or an array of token ids");
        }
        JsonElement p = o.get("prompt");
        if (isString(p)) {
            return withBos(tok.encode(p.getAsString()), tok);
        }
        if (p.isJsonArray()) {
            JsonArray a = p.getAsJsonArray();
            if (a.size() == 1 && (isString(a.get(0)) || a.get(0).isJsonArray())) {
                return completionPromptOf(a.get(0), tok, vocab);
            }
            if (!a.isEmpty() && a.get(0).isJsonPrimitive() && a.get(0).getAsJsonPrimitive().isNumber()) {
                return completionPromptOf(a, tok, vocab);
            }
            if (a.size() > 1) {
                throw ApiError.invalid("prompt", "'prompt' holds " + a.size() + " prompts; this server takes one per request");
            }
        }
        throw ApiError.invalid("prompt", "'prompt' must be a string or an array of token ids (got " + kind(p) + ")");
    }

    private static int[] completionPromptOf(JsonElement p, Tokenizer tok, int vocab) {
        if (isString(p)) {
            return withBos(tok.encode(p.getAsString()), tok);
        }
        JsonArray a = p.getAsJsonArray();
        int[] ids = new int[a.size()];
        for (int i = 0; i < ids.length; i++) {
            JsonElement e = a.get(i);
            if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isNumber()) {
                throw ApiError.invalid("prompt", "'prompt' token " + i + " is not an integer (got " + kind(e) + ")");
            }
            double d = e.getAsDouble();
            if (d != Math.rint(d) || d < 0 || d >= vocab) {
                throw ApiError.invalid("prompt", "'prompt' token " + i + " is " + e + ", outside the vocabulary 0.."
                        + (vocab - 1));
            }
            ids[i] = (int) d;
        }
        return ids;
    }

    private static int[] withBos(int[] ids, Tokenizer tok) {
        if (tok.bosId().isEmpty()) {
            return ids;
        }
        int[] r = new int[ids.length + 1];
        r[0] = tok.bosId().getAsInt();
        System.arraycopy(ids, 0, r, 1, ids.length);
        return r;
    }

    private static List<String> stopField(JsonObject o) {
        if (!present(o, "stop")) {
            return List.of();
        }
        JsonElement s = o.get("stop");
        List<String> out = new ArrayList<>();
        if (isString(s)) {
            out.add(s.getAsString());
        } else if (s.isJsonArray() && s.getAsJsonArray().size() <= 4) {
            for (JsonElement e : s.getAsJsonArray()) {
                if (!isString(e)) {
                    throw ApiError.invalid("stop", "'stop' must be a string or an array of up to 4 strings (an entry is "
                            + kind(e) + ")");
                }
                out.add(e.getAsString());
            }
        } else {
            throw ApiError.invalid("stop", "'stop' must be a string or an array of up to 4 strings (got " + kind(s) + ")");
        }
        if (out.stream().anyMatch(String::isEmpty)) {
            throw ApiError.invalid("stop", "'stop' strings must not be empty");
        }
        return List.copyOf(out);
    }

    static boolean present(JsonObject o, String name) {
        return o.has(name) && !o.get(name).isJsonNull();
    }

    private static boolean isString(JsonElement e) {
        return e != null && e.isJsonPrimitive() && e.getAsJsonPrimitive().isString();
    }

    private static JsonObject objectField(JsonObject o, String name) {
        if (!o.get(name).isJsonObject()) {
            throw ApiError.invalid(name, "'" + name + "' must be an object (got " + kind(o.get(name)) + ")");
        }
        return o.getAsJsonObject(name);
    }

    private static boolean boolField(JsonObject o, String name, boolean def) {
        if (!present(o, name)) {
            return def;
        }
        JsonElement e = o.get(name);
        if (!e.isJsonPrimitive() || !e.getAsJsonPrimitive().isBoolean()) {
            throw ApiError.invalid(name, "'" + name + "' must be true or false (got " + kind(e) + " " + e + ")");
        }
        return e.getAsBoolean();
    }

    private static int intField(JsonObject o, String name, int min, int max, int def) {
        if (!present(o, name)) {
            return def;
        }
        JsonElement e = o.get(name);
        if (!isNumber(e) || e.getAsDouble() != Math.rint(e.getAsDouble())) {
            throw ApiError.invalid(name, "'" + name + "' must be an integer (got " + kind(e) + " " + e + ")");
        }
        double d = e.getAsDouble();
        if (d < min || d > max) {
            throw ApiError.invalid(name, "'" + name + "' must be in " + min + ".." + (max == Integer.MAX_VALUE ? "" : max)
                    + " (got " + e + ")");
        }
        return (int) d;
    }

    private static long longField(JsonObject o, String name) {
        JsonElement e = o.get(name);
        if (!isNumber(e) || e.getAsDouble() != Math.rint(e.getAsDouble())) {
            throw ApiError.invalid(name, "'" + name + "' must be an integer (got " + kind(e) + " " + e + ")");
        }
        return e.getAsBigDecimal().longValue();
    }

    private static float floatField(JsonObject o, String name, float min, float max, float def) {
        if (!present(o, name)) {
            return def;
        }
        JsonElement e = o.get(name);
        if (!isNumber(e)) {
            throw ApiError.invalid(name, "'" + name + "' must be a number (got " + kind(e) + " " + e + ")");
        }
        double d = e.getAsDouble();
        if (!(d >= min && d <= max)) {
            throw ApiError.invalid(name, "'" + name + "' must be in [" + min + ", " + max + "] (got " + e + ")");
        }
        return (float) d;
    }

    private static boolean isNumber(JsonElement e) {
        return e.isJsonPrimitive() && e.getAsJsonPrimitive().isNumber();
    }

    static String kind(JsonElement e) {
        if (e == null || e.isJsonNull()) {
            return "null";
        }
        if (e.isJsonObject()) {
            return "an object";
        }
        if (e.isJsonArray()) {
            return "an array";
        }
        JsonPrimitive p = e.getAsJsonPrimitive();
        return p.isString() ? "a string" : p.isNumber() ? "a number" : "a boolean";
    }
}
