package org.distillery.data;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

import com.google.gson.Gson;
import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonElement;
import com.google.gson.JsonObject;
import com.google.gson.JsonParseException;
import com.google.gson.JsonParser;
import com.google.gson.Strictness;
import com.google.gson.stream.JsonReader;
import com.google.gson.stream.JsonToken;

import org.distillery.api.data.DataService;
import org.distillery.api.data.Example;
import org.distillery.kit.io.AtomicFiles;

/**
 * JSONL datasets: one record per line, in one of three shapes.
 *
 * <ul>
 *   <li>{@code {"prompt": "...", "response": "..."}} — an instruction pair;</li>
 *   <li>{@code {"messages": [{"role": "user", "content": "..."}, ...]}} — a chat, roles
 *       {@code system}, {@code user}, {@code assistant};</li>
 *   <li>{@code {"text": "..."}} — plain text for language modelling.</li>
 * </ul>
 *
 * <p>Every shape may carry an {@code id} (a string; defaults to {@code <filename>:<line>}) and a
 * {@code meta} object whose values are strings. Other fields are ignored; a JSON {@code null} is
 * the same as an absent field. Blank lines are skipped but counted. A bad line fails the whole
 * read with a {@link JsonlFormatException} whose message is {@code <file>:<line>: <what is wrong>}.
 * Files are UTF-8 (a leading byte-order mark is accepted). Writing is atomic and deterministic:
 * fields in a fixed order and {@code meta} keys sorted.
 */
public final class JsonlDataService implements DataService {

    /** Roles accepted in chat records. */
    public static final Set<String> ROLES = Set.of("system", "user", "assistant");

    private static final Gson GSON = new GsonBuilder().disableHtmlEscaping().create();

    /** Creates the service; it holds no state. */
    public JsonlDataService() {
    }

    @Override
    public List<Example> readJsonl(Path file) throws IOException {
        String fileName = file.getFileName() == null ? file.toString() : file.getFileName().toString();
        List<Example> out = new ArrayList<>();
        Map<String, Long> idLines = new HashMap<>();
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        try (InputStream in = Files.newInputStream(file)) {
            LineSplitter lines = new LineSplitter(in);
            long lineNo = 0;
            while (lines.next()) {
                lineNo++;
                String line;
                try {
                    line = decoder.reset().decode(lines.line()).toString();
                } catch (CharacterCodingException e) {
                    throw new JsonlFormatException(file, lineNo, "not valid UTF-8");
                }
                if (lineNo == 1 && line.startsWith("\uFEFF")) {
                    line = line.substring(1);
                }
                if (line.isBlank()) {
                    continue;
                }
                Example example = parseLine(file, lineNo, line, fileName + ":" + lineNo);
                Long first = idLines.putIfAbsent(example.id(), lineNo);
                if (first != null) {
                    throw new JsonlFormatException(file, lineNo,
                            "duplicate id " + quote(example.id()) + " (first used on line " + first + ")");
                }
                out.add(example);
            }
        }
        return out;
    }

    @Override
    public void writeJsonl(Path file, List<Example> examples) throws IOException {
        List<String> lines = new ArrayList<>(examples.size());
        for (int i = 0; i < examples.size(); i++) {
            lines.add(toJsonLine(examples.get(i), i));
        }
        AtomicFiles.writeUtf8(file, (Writer w) -> {
            for (String line : lines) {
                w.write(line);
                w.write('\n');
            }
        });
    }

    /** Serialises one record as a single JSON line (no trailing newline); fields in a fixed order. */
    public static String toJsonLine(Example e) {
        return toJsonLine(e, -1);
    }

    private static String toJsonLine(Example e, int index) {
        String where = e.id() != null ? "example " + quote(e.id())
                : index >= 0 ? "example #" + index : "example";
        boolean pair = e.prompt() != null || e.response() != null;
        boolean chat = e.messages() != null && !e.messages().isEmpty();
        boolean text = e.text() != null;
        int shapes = (pair ? 1 : 0) + (chat ? 1 : 0) + (text ? 1 : 0);
        if (shapes != 1) {
            throw new IllegalArgumentException(where + ": exactly one of prompt/response, messages, text "
                    + "must be set, found " + (shapes == 0 ? "none" : "several"));
        }
        JsonObject o = new JsonObject();
        if (e.id() != null) {
            o.addProperty("id", e.id());
        }
        if (pair) {
            if (e.prompt() == null || e.response() == null) {
                throw new IllegalArgumentException(where + ": a pair needs both prompt and response");
            }
            o.addProperty("prompt", e.prompt());
            o.addProperty("response", e.response());
        } else if (chat) {
            JsonArray arr = new JsonArray();
            for (Example.Message m : e.messages()) {
                if (m == null || m.role() == null || m.content() == null) {
                    throw new IllegalArgumentException(where + ": a message needs role and content");
                }
                if (!ROLES.contains(m.role())) {
                    throw new IllegalArgumentException(where + ": unknown role " + quote(m.role())
                            + " (accepted: system, user, assistant)");
                }
                JsonObject mo = new JsonObject();
                mo.addProperty("role", m.role());
                mo.addProperty("content", m.content());
                arr.add(mo);
            }
            o.add("messages", arr);
        } else {
            o.addProperty("text", e.text());
        }
        if (e.meta() != null && !e.meta().isEmpty()) {
            JsonObject meta = new JsonObject();
            for (Map.Entry<String, String> kv : new TreeMap<>(e.meta()).entrySet()) {
                if (kv.getValue() == null) {
                    throw new IllegalArgumentException(where + ": meta " + quote(kv.getKey()) + " is null");
                }
                meta.addProperty(kv.getKey(), kv.getValue());
            }
            o.add("meta", meta);
        }
        return GSON.toJson(o);
    }

    /**
     * Parses one non-blank line.
     *
     * @param file the file, for messages
     * @param lineNo the 1-based line number, for messages
     * @param line the line's text
     * @param defaultId the id used when the record has none
     */
    public static Example parseLine(Path file, long lineNo, String line, String defaultId) throws JsonlFormatException {
        JsonElement element;
        try {
            JsonReader reader = new JsonReader(new StringReader(line));
            reader.setStrictness(Strictness.STRICT);
            element = JsonParser.parseReader(reader);
            if (reader.peek() != JsonToken.END_DOCUMENT) {
                throw new JsonlFormatException(file, lineNo, "not valid JSON: text after the end of the record");
            }
        } catch (JsonParseException | IOException | IllegalStateException e) {
            if (e instanceof JsonlFormatException jfe) {
                throw jfe;
            }
            throw new JsonlFormatException(file, lineNo, "not valid JSON: " + conciseMessage(e));
        }
        if (!element.isJsonObject()) {
            throw new JsonlFormatException(file, lineNo,
                    "expected a JSON object, found " + kindOf(element));
        }
        JsonObject o = element.getAsJsonObject();
        String id = optionalString(file, lineNo, o, "id");
        String prompt = optionalString(file, lineNo, o, "prompt");
        String response = optionalString(file, lineNo, o, "response");
        String text = optionalString(file, lineNo, o, "text");
        JsonElement messagesEl = present(o, "messages");
        Map<String, String> meta = readMeta(file, lineNo, o);

        List<String> shapes = new ArrayList<>();
        if (prompt != null || response != null) {
            shapes.add("prompt/response");
        }
        if (messagesEl != null) {
            shapes.add("messages");
        }
        if (text != null) {
            shapes.add("text");
        }
        if (shapes.isEmpty()) {
            throw new JsonlFormatException(file, lineNo,
                    "no recognised record shape: expected {prompt, response}, {messages} or {text}");
        }
        if (shapes.size() > 1) {
            throw new JsonlFormatException(file, lineNo,
                    "mixed record shapes: " + String.join(" and ", shapes) + " in one record");
        }
        String theId = id != null ? id : defaultId;
        if (text != null) {
            return new Example(theId, null, null, List.of(), text, meta);
        }
        if (messagesEl == null) {
            if (prompt == null) {
                throw new JsonlFormatException(file, lineNo, "\"response\" without \"prompt\"");
            }
            if (response == null) {
                throw new JsonlFormatException(file, lineNo, "\"prompt\" without \"response\"");
            }
            return new Example(theId, prompt, response, List.of(), null, meta);
        }
        return new Example(theId, null, null, readMessages(file, lineNo, messagesEl), null, meta);
    }

    private static List<Example.Message> readMessages(Path file, long lineNo, JsonElement el)
            throws JsonlFormatException {
        if (!el.isJsonArray()) {
            throw new JsonlFormatException(file, lineNo, "\"messages\" must be an array, found " + kindOf(el));
        }
        JsonArray arr = el.getAsJsonArray();
        if (arr.isEmpty()) {
            throw new JsonlFormatException(file, lineNo, "\"messages\" is empty");
        }
        List<Example.Message> messages = new ArrayList<>(arr.size());
        for (int i = 0; i < arr.size(); i++) {
            JsonElement m = arr.get(i);
            String where = "messages[" + i + "]";
            if (!m.isJsonObject()) {
                throw new JsonlFormatException(file, lineNo, where + " must be an object, found " + kindOf(m));
            }
            JsonObject mo = m.getAsJsonObject();
            String role = optionalString(file, lineNo, mo, "role", where + ".role");
            String content = optionalString(file, lineNo, mo, "content", where + ".content");
            if (role == null) {
                throw new JsonlFormatException(file, lineNo, where + " has no \"role\"");
            }
            if (!ROLES.contains(role)) {
                throw new JsonlFormatException(file, lineNo, where + ": unknown role " + quote(role)
                        + " (accepted: system, user, assistant)");
            }
            if (content == null) {
                throw new JsonlFormatException(file, lineNo, where + " has no \"content\"");
            }
            messages.add(new Example.Message(role, content));
        }
        return List.copyOf(messages);
    }

    private static Map<String, String> readMeta(Path file, long lineNo, JsonObject o) throws JsonlFormatException {
        JsonElement el = present(o, "meta");
        if (el == null) {
            return Map.of();
        }
        if (!el.isJsonObject()) {
            throw new JsonlFormatException(file, lineNo, "\"meta\" must be an object of strings, found " + kindOf(el));
        }
        Map<String, String> meta = new LinkedHashMap<>();
        for (Map.Entry<String, JsonElement> kv : el.getAsJsonObject().entrySet()) {
            JsonElement v = kv.getValue();
            if (!v.isJsonPrimitive() || !v.getAsJsonPrimitive().isString()) {
                throw new JsonlFormatException(file, lineNo,
                        "meta." + kv.getKey() + " must be a string, found " + kindOf(v));
            }
            meta.put(kv.getKey(), v.getAsString());
        }
        return Collections.unmodifiableMap(meta);
    }

    private static JsonElement present(JsonObject o, String field) {
        JsonElement el = o.get(field);
        return el == null || el.isJsonNull() ? null : el;
    }

    private static String optionalString(Path file, long lineNo, JsonObject o, String field)
            throws JsonlFormatException {
        return optionalString(file, lineNo, o, field, field);
    }

    private static String optionalString(Path file, long lineNo, JsonObject o, String field, String label)
            throws JsonlFormatException {
        JsonElement el = present(o, field);
        if (el == null) {
            return null;
        }
        if (!el.isJsonPrimitive() || !el.getAsJsonPrimitive().isString()) {
            throw new JsonlFormatException(file, lineNo, "\"" + label + "\" must be a string, found " + kindOf(el));
        }
        return el.getAsString();
    }

    private static String kindOf(JsonElement el) {
        if (el == null || el.isJsonNull()) {
            return "null";
        }
        if (el.isJsonObject()) {
            return "an object";
        }
        if (el.isJsonArray()) {
            return "an array";
        }
        var p = el.getAsJsonPrimitive();
        if (p.isBoolean()) {
            return "a boolean";
        }
        if (p.isNumber()) {
            return "a number";
        }
        return "a string";
    }

    private static String conciseMessage(Exception e) {
        String msg = e.getMessage();
        if (msg == null && e.getCause() != null) {
            msg = e.getCause().getMessage();
        }
        if (msg == null) {
            return e.getClass().getSimpleName();
        }
        int see = msg.indexOf("\nSee ");
        if (see >= 0) {
            msg = msg.substring(0, see);
        }
        // Gson prefixes the exception class of the cause, e.g. "com.google.gson.stream.MalformedJsonException: ..."
        int colon = msg.indexOf("Exception: ");
        if (colon >= 0) {
            msg = msg.substring(colon + "Exception: ".length());
        }
        return msg.strip();
    }

    /** Splits a byte stream at {@code \n}, dropping one trailing {@code \r}; UTF-8 safe since both are ASCII. */
    private static final class LineSplitter {
        private final InputStream in;
        private byte[] buf = new byte[1 << 16];
        private int start;
        private int end;
        private boolean eof;
        private ByteBuffer line;

        LineSplitter(InputStream in) {
            this.in = in;
        }

        /** Advances to the next line; false at the end of the stream. */
        boolean next() throws IOException {
            int scan = start;
            while (true) {
                for (int i = scan; i < end; i++) {
                    if (buf[i] == '\n') {
                        setLine(start, i);
                        start = i + 1;
                        return true;
                    }
                }
                if (eof) {
                    if (start == end) {
                        return false;
                    }
                    setLine(start, end);
                    start = end;
                    return true;
                }
                scan = end - start;
                if (start > 0) {
                    System.arraycopy(buf, start, buf, 0, end - start);
                    end -= start;
                    start = 0;
                }
                if (end == buf.length) {
                    buf = java.util.Arrays.copyOf(buf, buf.length * 2);
                }
                int n = in.read(buf, end, buf.length - end);
                if (n < 0) {
                    eof = true;
                } else {
                    end += n;
                }
            }
        }

        private void setLine(int from, int to) {
            if (to > from && buf[to - 1] == '\r') {
                to--;
            }
            line = ByteBuffer.wrap(buf, from, to - from);
        }

        /** The current line's bytes, without the line end. */
        ByteBuffer line() {
            return line;
        }
    }

    private static String quote(String s) {
        return GSON.toJson(s);
    }
}
