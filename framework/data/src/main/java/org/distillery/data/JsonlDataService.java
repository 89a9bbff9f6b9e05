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
 * {@code meta} object whose values are strings.
 *
 * <p>Prompt/response and chat records may have one image: {@code "image": "path"} with the path
 * relative to the JSONL file's folder (or absolute), marked in the text by {@code <image>}
 * ({@link Example#IMAGE_PLACEHOLDER}; a prompt without it has the image in front), or a chat
 * message whose {@code content} is a list of parts, {@code {"type": "text", "text": ...}} and one
 * {@code {"type": "image", "image": "path"}}, joined in order with the image part as
 * {@code <image>}. The file must exist and have a readable PNG or JPEG header (its pixels are
 * decoded when a batch needs them); one image per record,
 * none in assistant messages or text records, and exactly one marker for it. Images are read as
 * absolute paths and written relative to the file written. Other fields are ignored; a JSON {@code null} is
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
        Path folder = file.toAbsolutePath().normalize().getParent();
        for (int i = 0; i < examples.size(); i++) {
            Example e = examples.get(i);
            if (e.hasImage() && folder != null) {
                Path image = Path.of(e.image());
                if (image.isAbsolute()) {
                    // portable datasets: images relative to the file, with forward slashes
                    e = e.withImage(folder.relativize(image.normalize()).toString().replace('\\', '/'));
                }
            }
            lines.add(toJsonLine(e, i));
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
        if (e.image() != null) {
            if (text) {
                throw new IllegalArgumentException(where + ": a text record cannot have an image");
            }
            o.addProperty("image", e.image());
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
        String image = optionalString(file, lineNo, o, "image");
        if (text != null) {
            if (image != null) {
                throw new JsonlFormatException(file, lineNo, "a {text} record cannot have an \"image\"");
            }
            return new Example(theId, null, null, List.of(), text, meta);
        }
        if (messagesEl == null) {
            if (prompt == null) {
                throw new JsonlFormatException(file, lineNo, "\"response\" without \"prompt\"");
            }
            if (response == null) {
                throw new JsonlFormatException(file, lineNo, "\"prompt\" without \"response\"");
            }
            int marks = count(prompt) + count(response);
            if (image == null && marks > 0) {
                throw new JsonlFormatException(file, lineNo, "the prompt marks an image with "
                        + Example.IMAGE_PLACEHOLDER + " but the record has no \"image\"");
            }
            if (image != null && (marks > 1 || count(response) > 0)) {
                throw new JsonlFormatException(file, lineNo, "one image per record: its prompt may mark it with "
                        + Example.IMAGE_PLACEHOLDER + " once (found " + marks + " markers)");
            }
            return new Example(theId, prompt, response, List.of(), null, meta,
                    image == null ? null : checkImage(file, lineNo, image));
        }
        String[] partImage = new String[1];
        List<Example.Message> messages = readMessages(file, lineNo, messagesEl, partImage);
        if (partImage[0] != null && image != null) {
            throw new JsonlFormatException(file, lineNo, "one image per record: both \"image\" and an image part");
        }
        String theImage = partImage[0] != null ? partImage[0] : image;
        int marks = 0;
        for (int i = 0; i < messages.size(); i++) {
            Example.Message m = messages.get(i);
            int c = count(m.content());
            if (c > 0 && m.role().equals("assistant")) {
                throw new JsonlFormatException(file, lineNo, "messages[" + i + "]: an assistant message cannot hold "
                        + "an image");
            }
            marks += c;
        }
        if (theImage == null ? marks > 0 : marks != 1) {
            throw new JsonlFormatException(file, lineNo, theImage == null
                    ? "a message marks an image with " + Example.IMAGE_PLACEHOLDER + " but the record has no image"
                    : "one image per record, marked once with " + Example.IMAGE_PLACEHOLDER + " or as an image part "
                    + "(found " + marks + " markers)");
        }
        return new Example(theId, null, null, messages, null, meta,
                theImage == null ? null : checkImage(file, lineNo, theImage));
    }

    private static int count(String text) {
        int n = 0;
        for (int at = text.indexOf(Example.IMAGE_PLACEHOLDER); at >= 0;
             at = text.indexOf(Example.IMAGE_PLACEHOLDER, at + 1)) {
            n++;
        }
        return n;
    }

    /**
     * The absolute path of an image a record names (relative to the JSONL file's folder), after
     * checking that it is a readable file that starts like a PNG or a JPEG image.
     */
    private static String checkImage(Path file, long lineNo, String image) throws JsonlFormatException {
        if (image.isBlank()) {
            throw new JsonlFormatException(file, lineNo, "\"image\" is empty");
        }
        Path folder = file.toAbsolutePath().normalize().getParent();
        Path p;
        try {
            p = Path.of(image);
        } catch (java.nio.file.InvalidPathException e) {
            throw new JsonlFormatException(file, lineNo, "image " + quote(image) + " is not a valid path");
        }
        Path resolved = (p.isAbsolute() || folder == null ? p : folder.resolve(p)).normalize();
        if (!Files.isRegularFile(resolved)) {
            throw new JsonlFormatException(file, lineNo, "image " + quote(image) + " (" + resolved + "): no such file");
        }
        byte[] head = new byte[8];
        int n;
        try (InputStream in = Files.newInputStream(resolved)) {
            n = in.readNBytes(head, 0, head.length);
        } catch (IOException e) {
            throw new JsonlFormatException(file, lineNo, "image " + quote(image) + " (" + resolved + "): not readable ("
                    + e.getMessage() + ")");
        }
        boolean png = n == 8 && (head[0] & 0xFF) == 0x89 && head[1] == 'P' && head[2] == 'N' && head[3] == 'G';
        boolean jpeg = n >= 3 && (head[0] & 0xFF) == 0xFF && (head[1] & 0xFF) == 0xD8 && (head[2] & 0xFF) == 0xFF;
        if (!png && !jpeg) {
            throw new JsonlFormatException(file, lineNo, "image " + quote(image) + " (" + resolved
                    + "): not a PNG or JPEG file");
        }
        // the header's dimensions (read, not the pixels): a broken header fails here, with its line
        try (javax.imageio.stream.ImageInputStream in = javax.imageio.ImageIO.createImageInputStream(resolved.toFile())) {
            var readers = in == null ? null : javax.imageio.ImageIO.getImageReaders(in);
            if (readers == null || !readers.hasNext()) {
                throw new IOException("no reader for its format");
            }
            javax.imageio.ImageReader reader = readers.next();
            try {
                reader.setInput(in, true, true);
                if (reader.getWidth(0) <= 0 || reader.getHeight(0) <= 0) {
                    throw new IOException("empty image");
                }
            } finally {
                reader.dispose();
            }
        } catch (IOException | RuntimeException e) {
            throw new JsonlFormatException(file, lineNo, "image " + quote(image) + " (" + resolved
                    + "): unreadable " + (png ? "PNG" : "JPEG") + " header (" + e.getMessage() + ")");
        }
        return resolved.toString();
    }

    private static List<Example.Message> readMessages(Path file, long lineNo, JsonElement el, String[] image)
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
            JsonElement parts = present(mo, "content");
            String content = parts != null && parts.isJsonArray() ? joinParts(file, lineNo, parts, where, image)
                    : optionalString(file, lineNo, mo, "content", where + ".content");
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

    /** The text of a list of content parts, the image part (one at most) as the image marker. */
    private static String joinParts(Path file, long lineNo, JsonElement parts, String where, String[] image)
            throws JsonlFormatException {
        StringBuilder sb = new StringBuilder();
        JsonArray arr = parts.getAsJsonArray();
        for (int k = 0; k < arr.size(); k++) {
            String at = where + ".content[" + k + "]";
            if (!arr.get(k).isJsonObject()) {
                throw new JsonlFormatException(file, lineNo, at + " must be an object, found " + kindOf(arr.get(k)));
            }
            JsonObject part = arr.get(k).getAsJsonObject();
            String type = optionalString(file, lineNo, part, "type", at + ".type");
            if ("text".equals(type)) {
                String t = optionalString(file, lineNo, part, "text", at + ".text");
                if (t == null) {
                    throw new JsonlFormatException(file, lineNo, at + " has no \"text\"");
                }
                sb.append(t);
            } else if ("image".equals(type)) {
                String path = optionalString(file, lineNo, part, "image", at + ".image");
                if (path == null) {
                    throw new JsonlFormatException(file, lineNo, at + " has no \"image\" path");
                }
                if (image[0] != null) {
                    throw new JsonlFormatException(file, lineNo, "one image per record: " + at + " is a second image");
                }
                image[0] = path;
                sb.append(Example.IMAGE_PLACEHOLDER);
                if (k + 1 < arr.size()) {
                    sb.append('\n');
                }
            } else {
                throw new JsonlFormatException(file, lineNo, at + ": unknown part type " + quote(String.valueOf(type))
                        + " (accepted: text, image)");
            }
        }
        return sb.toString();
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
