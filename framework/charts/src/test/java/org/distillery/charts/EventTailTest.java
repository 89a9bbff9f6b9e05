package org.distillery.charts;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class EventTailTest {

    @TempDir
    Path dir;

    private static List<String> texts(EventTail.Batch b) {
        return b.lines().stream().map(EventTail.Line::text).toList();
    }

    private void append(Path f, String s) throws Exception {
        Files.writeString(f, s, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    @Test
    void handsOutCompleteLinesOnlyAndWaitsForTheRestOfAPartialOne() throws Exception {
        Path f = dir.resolve("events.jsonl");
        EventTail tail = new EventTail(f);
        assertEquals(List.of(), texts(tail.poll()), "no file yet: nothing");
        append(f, "{\"a\":1}\n{\"b\":");
        EventTail.Batch first = tail.poll();
        assertEquals(List.of("{\"a\":1}"), texts(first));
        assertEquals(8, first.lines().get(0).end());
        assertEquals(8, tail.offset(), "the partial line is not consumed");
        assertEquals(List.of(), texts(tail.poll()), "still partial");
        append(f, "2}\r\n{\"c\":3}\n");
        EventTail.Batch second = tail.poll();
        assertEquals(List.of("{\"b\":2}", "{\"c\":3}"), texts(second), "CRLF is a line break too");
        assertFalse(second.reset());
        assertEquals(Files.size(f), tail.offset());
    }

    @Test
    void multiByteCharactersAreNotCut() throws Exception {
        Path f = dir.resolve("events.jsonl");
        byte[] line = "{\"stage\":\"\u00e9t\u00e9 \u2192 \u6f22\"}\n".getBytes(StandardCharsets.UTF_8);
        EventTail tail = new EventTail(f);
        Files.write(f, java.util.Arrays.copyOf(line, line.length - 4));
        assertEquals(List.of(), texts(tail.poll()));
        Files.write(f, java.util.Arrays.copyOfRange(line, line.length - 4, line.length), StandardOpenOption.APPEND);
        assertEquals(List.of("{\"stage\":\"\u00e9t\u00e9 \u2192 \u6f22\"}"), texts(tail.poll()));
    }

    @Test
    void truncationStartsOverWithAReset() throws Exception {
        Path f = dir.resolve("events.jsonl");
        append(f, "{\"a\":1}\n{\"b\":2}\n");
        EventTail tail = new EventTail(f);
        assertEquals(2, tail.poll().lines().size());
        Files.writeString(f, "{\"x\":1}\n");
        EventTail.Batch b = tail.poll();
        assertTrue(b.reset(), "shorter than the offset");
        assertEquals(List.of("{\"x\":1}"), texts(b));
        // truncated and rewritten past the old offset: the byte before the offset is no longer a line break
        Files.writeString(f, "{\"long-line\":\"...................\"}\n{\"y\":2}\n");
        EventTail.Batch c = tail.poll();
        assertTrue(c.reset());
        assertEquals(List.of("{\"long-line\":\"...................\"}", "{\"y\":2}"), texts(c));
    }

    @Test
    void aReplacedFileStartsOverWithAReset() throws Exception {
        Path f = dir.resolve("events.jsonl");
        append(f, "{\"a\":1}\n");
        EventTail tail = new EventTail(f);
        tail.poll();
        Path other = dir.resolve("other.jsonl");
        Files.writeString(other, "{\"a\":9}\n{\"b\":9}\n");
        Files.move(other, f, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        EventTail.Batch b = tail.poll();
        assertTrue(b.reset());
        assertEquals(List.of("{\"a\":9}", "{\"b\":9}"), texts(b));
        Files.delete(f);
        assertTrue(tail.poll().reset(), "a deleted file resets too");
        assertEquals(0, tail.offset());
    }

    @Test
    void resumesFromAnOffsetItReported() throws Exception {
        Path f = dir.resolve("events.jsonl");
        append(f, "{\"a\":1}\n{\"b\":2}\n");
        EventTail first = new EventTail(f);
        EventTail.Batch b = first.poll();
        long afterA = b.lines().get(0).end();
        append(f, "{\"c\":3}\n");
        EventTail resumed = new EventTail(f, afterA);
        EventTail.Batch r = resumed.poll();
        assertFalse(r.reset());
        assertEquals(List.of("{\"b\":2}", "{\"c\":3}"), texts(r));
        // an offset inside a line is not a resume point: start over
        EventTail bad = new EventTail(f, 3);
        EventTail.Batch x = bad.poll();
        assertTrue(x.reset());
        assertEquals(3, x.lines().size());
    }

    @Test
    void aLargeBacklogIsReadInBoundedSteps() throws Exception {
        Path f = dir.resolve("events.jsonl");
        String line = "{\"type\":\"step\",\"pad\":\"" + "x".repeat(1000) + "\"}\n";
        int lines = EventTail.MAX_READ / line.length() + 50;
        Files.writeString(f, line.repeat(lines));
        EventTail tail = new EventTail(f);
        int seen = 0;
        int polls = 0;
        for (EventTail.Batch b; !(b = tail.poll()).lines().isEmpty(); polls++) {
            seen += b.lines().size();
        }
        assertEquals(lines, seen);
        assertEquals(2, polls);
    }
}
