package org.distillery.kernel.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A log whose last line a killed process cut short gets its next record on a line of its own. */
class JsonlEventLogTest {

    @Test
    void aLineCutShortByAKillIsEndedBeforeTheNextRecord(@TempDir Path dir) throws Exception {
        Path file = dir.resolve("events.jsonl");
        Files.writeString(file, "{\"type\":\"step\",\"step\":1}\n{\"type\":\"step\",\"st");
        try (JsonlEventLog log = new JsonlEventLog(file)) {
            log.event("resumed", Map.of("step", 1));
        }
        List<String> lines = Files.readAllLines(file);
        assertEquals(3, lines.size(), lines.toString());
        assertTrue(lines.get(2).startsWith("{\"time\"") && lines.get(2).contains("\"type\":\"resumed\""), lines.get(2));
        try (JsonlEventLog log = new JsonlEventLog(file)) {
            log.event("again", Map.of());
        }
        assertEquals(4, Files.readAllLines(file).size(), "a whole last line is left as it is");
    }
}
