package org.distillery.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import org.distillery.api.data.Example;

class JsonlDataServiceTest {

    @TempDir
    Path dir;

    private final JsonlDataService data = new JsonlDataService();

    static Stream<Arguments> badLines() {
        return Stream.of(
                Arguments.of("not json", "{\"prompt\": \"a\", ", "not valid JSON"),
                Arguments.of("not json: bare word", "hello", "not valid JSON"),
                Arguments.of("not json: single quotes", "{'prompt': 'a', 'response': 'b'}", "not valid JSON"),
                Arguments.of("not json: trailing text", "{\"text\": \"a\"} {\"text\": \"b\"}", "not valid JSON"),
                Arguments.of("not an object: array", "[1, 2]", "expected a JSON object, found an array"),
                Arguments.of("not an object: string", "\"text\"", "expected a JSON object, found a string"),
                Arguments.of("not an object: number", "42", "expected a JSON object, found a number"),
                Arguments.of("wrong type: prompt", "{\"prompt\": 1, \"response\": \"b\"}",
                        "\"prompt\" must be a string, found a number"),
                Arguments.of("wrong type: response", "{\"prompt\": \"a\", \"response\": [\"b\"]}",
                        "\"response\" must be a string, found an array"),
                Arguments.of("wrong type: text", "{\"text\": true}", "\"text\" must be a string, found a boolean"),
                Arguments.of("wrong type: id", "{\"id\": 7, \"text\": \"a\"}", "\"id\" must be a string"),
                Arguments.of("wrong type: meta", "{\"text\": \"a\", \"meta\": \"x\"}",
                        "\"meta\" must be an object of strings"),
                Arguments.of("wrong type: meta value", "{\"text\": \"a\", \"meta\": {\"task\": 3}}",
                        "meta.task must be a string, found a number"),
                Arguments.of("wrong type: messages", "{\"messages\": \"hi\"}", "\"messages\" must be an array"),
                Arguments.of("wrong type: message", "{\"messages\": [\"hi\"]}", "messages[0] must be an object"),
                Arguments.of("wrong type: content",
                        "{\"messages\": [{\"role\": \"user\", \"content\": 5}]}",
                        "\"messages[0].content\" must be a string"),
                Arguments.of("missing role", "{\"messages\": [{\"content\": \"x\"}]}", "messages[0] has no \"role\""),
                Arguments.of("missing content", "{\"messages\": [{\"role\": \"user\"}]}",
                        "messages[0] has no \"content\""),
                Arguments.of("empty messages", "{\"messages\": []}", "\"messages\" is empty"),
                Arguments.of("no shape", "{\"id\": \"x\", \"meta\": {}}", "no recognised record shape"),
                Arguments.of("no shape: other fields", "{\"question\": \"q\", \"answer\": \"a\"}",
                        "no recognised record shape"),
                Arguments.of("prompt without response", "{\"prompt\": \"a\"}", "\"prompt\" without \"response\""),
                Arguments.of("response without prompt", "{\"response\": \"a\"}", "\"response\" without \"prompt\""),
                Arguments.of("mixed: pair and text", "{\"prompt\": \"a\", \"response\": \"b\", \"text\": \"c\"}",
                        "mixed record shapes: prompt/response and text"),
                Arguments.of("mixed: messages and text",
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}], \"text\": \"c\"}",
                        "mixed record shapes: messages and text"),
                Arguments.of("unknown role",
                        "{\"messages\": [{\"role\": \"user\", \"content\": \"x\"}, {\"role\": \"bot\", \"content\": \"y\"}]}",
                        "messages[1]: unknown role \"bot\""),
                Arguments.of("duplicate id", "{\"id\": \"first\", \"text\": \"again\"}",
                        "duplicate id \"first\" (first used on line 1)"));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badLines")
    void badLineFailsWithFileAndLineNumber(String name, String badLine, String expected) throws IOException {
        Path file = dir.resolve("bad-data.jsonl");
        // line 1 good, line 2 blank (counted), line 3 bad, line 4 good
        Files.writeString(file, "{\"id\": \"first\", \"prompt\": \"p\", \"response\": \"r\"}\n\n" + badLine
                + "\n{\"text\": \"after\"}\n", StandardCharsets.UTF_8);
        JsonlFormatException e = assertThrows(JsonlFormatException.class, () -> data.readJsonl(file));
        assertTrue(e.getMessage().startsWith(file + ":3: "), e.getMessage());
        assertTrue(e.getMessage().contains("bad-data.jsonl"), e.getMessage());
        assertTrue(e.getMessage().contains(expected), () -> "expected '" + expected + "' in: " + e.getMessage());
        assertEquals(3, e.line());
        assertEquals(file, e.file());
        assertFalse(e.getMessage().contains("\n"), "one-line message: " + e.getMessage());
    }

    @Test
    void invalidUtf8FailsWithLineNumber() throws IOException {
        Path file = dir.resolve("latin1.jsonl");
        byte[] good = "{\"text\": \"ok\"}\n".getBytes(StandardCharsets.UTF_8);
        byte[] bad = "{\"text\": \"caf\u00e9\"}\n".getBytes(StandardCharsets.ISO_8859_1);
        byte[] all = new byte[good.length + bad.length];
        System.arraycopy(good, 0, all, 0, good.length);
        System.arraycopy(bad, 0, all, good.length, bad.length);
        Files.write(file, all);
        JsonlFormatException e = assertThrows(JsonlFormatException.class, () -> data.readJsonl(file));
        assertTrue(e.getMessage().startsWith(file + ":2: not valid UTF-8"), e.getMessage());
    }

    @Test
    void emptyFileIsAnEmptyList() throws IOException {
        Path file = dir.resolve("empty.jsonl");
        Files.writeString(file, "");
        assertEquals(List.of(), data.readJsonl(file));
        Files.writeString(file, "\n  \n\t\n");
        assertEquals(List.of(), data.readJsonl(file));
    }

    @Test
    void blankLinesSkippedAndDefaultIdsUseFileAndLine() throws IOException {
        Path file = dir.resolve("mixed.jsonl");
        Files.writeString(file, "\uFEFF{\"prompt\": \"p1\", \"response\": \"r1\"}\n"
                + "\r\n"
                + "{\"id\": \"mine\", \"text\": \"t\", \"response\": null, \"extra\": 1}\r\n"
                + "   \n"
                + "{\"messages\": [{\"role\": \"system\", \"content\": \"s\"}, {\"role\": \"user\", \"content\": \"u\"},"
                + " {\"role\": \"assistant\", \"content\": \"a\"}], \"meta\": {\"task\": \"chat\"}}\n");
        List<Example> got = data.readJsonl(file);
        assertEquals(3, got.size());
        assertEquals("mixed.jsonl:1", got.get(0).id());
        assertEquals("p1", got.get(0).prompt());
        assertEquals("r1", got.get(0).response());
        assertEquals("mine", got.get(1).id());
        assertEquals("t", got.get(1).text());
        assertNull(got.get(1).prompt());
        assertEquals("mixed.jsonl:5", got.get(2).id());
        assertEquals(List.of(new Example.Message("system", "s"), new Example.Message("user", "u"),
                new Example.Message("assistant", "a")), got.get(2).messages());
        assertEquals(Map.of("task", "chat"), got.get(2).meta());
    }

    @Test
    void roundTripOfAllThreeShapes() throws IOException {
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("task", "yesno");
        meta.put("label", "yes");
        List<Example> examples = List.of(
                Example.pair("p-1", "is \"x\" <red> & 'blue'?\nsay =", "yes \\ no \t caf\u00e9 \u2603 \ud83d\ude00",
                        meta),
                Example.pair("p-2", "", "", Map.of()),
                Example.text("t-1", "line one\nline two"),
                Example.chat("c-1", List.of(new Example.Message("system", "be brief"),
                        new Example.Message("user", "hi"), new Example.Message("assistant", "hello"))),
                new Example("t-2", null, null, List.of(), "text with meta", Map.of("source", "corpus", "a", "b")));
        Path file = dir.resolve("sub/dir/round.jsonl");
        data.writeJsonl(file, examples);
        List<Example> back = data.readJsonl(file);
        assertEquals(examples, back);
        assertFalse(Files.exists(file.resolveSibling("round.jsonl.tmp")), "temporary file left behind");
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        assertEquals(examples.size(), lines.size());
        // meta keys are sorted, fields in a fixed order, no HTML escaping
        assertTrue(lines.get(0).startsWith("{\"id\":\"p-1\",\"prompt\":\"is \\\"x\\\" <red> & 'blue'?\\nsay =\""),
                lines.get(0));
        assertTrue(lines.get(0).endsWith("\"meta\":{\"label\":\"yes\",\"task\":\"yesno\"}}"), lines.get(0));

        // writing the same records again gives the same bytes; overwriting replaces the file
        byte[] first = Files.readAllBytes(file);
        data.writeJsonl(file, examples);
        assertArrayEquals(first, Files.readAllBytes(file));
        data.writeJsonl(file, List.of(Example.text("only", "one")));
        assertEquals(List.of(Example.text("only", "one")), data.readJsonl(file));
    }

    @Test
    void longLinesManyLinesAndNoFinalNewline() throws IOException {
        Path file = dir.resolve("big.jsonl");
        StringBuilder sb = new StringBuilder();
        String longText = "\u00e9x".repeat(100_000);
        sb.append("{\"text\": \"").append(longText).append("\"}\r\n");
        for (int i = 0; i < 5000; i++) {
            sb.append("{\"prompt\": \"p").append(i).append("\", \"response\": \"\u2603").append(i).append("\"}\n");
        }
        sb.append("{\"text\": \"last\"}");
        Files.writeString(file, sb, StandardCharsets.UTF_8);
        List<Example> got = data.readJsonl(file);
        assertEquals(5002, got.size());
        assertEquals(longText, got.get(0).text());
        assertEquals("\u26034999", got.get(5000).response());
        assertEquals("big.jsonl:5002", got.get(5001).id());
        assertEquals("last", got.get(5001).text());
    }

    @Test
    void recordsWithoutIdGetNoIdFieldAndReadBackWithDefaultIds() throws IOException {
        Path file = dir.resolve("noid.jsonl");
        data.writeJsonl(file, List.of(new Example(null, null, null, List.of(), "x", Map.of())));
        assertEquals("{\"text\":\"x\"}", Files.readString(file).strip());
        assertEquals("noid.jsonl:1", data.readJsonl(file).get(0).id());
    }

    @Test
    void writeRejectsRecordsWithoutExactlyOneShape() {
        Path file = dir.resolve("w.jsonl");
        assertThrows(IllegalArgumentException.class, () -> data.writeJsonl(file,
                List.of(new Example("a", "p", "r", List.of(), "t", Map.of()))));
        assertThrows(IllegalArgumentException.class, () -> data.writeJsonl(file,
                List.of(new Example("a", null, null, List.of(), null, Map.of()))));
        assertThrows(IllegalArgumentException.class, () -> data.writeJsonl(file,
                List.of(Example.chat("c", List.of(new Example.Message("robot", "x"))))));
        assertFalse(Files.exists(file), "nothing written for invalid records");
        assertFalse(Files.exists(dir.resolve("w.jsonl.tmp")));
    }
}
