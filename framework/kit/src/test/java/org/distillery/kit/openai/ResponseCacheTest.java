package org.distillery.kit.openai;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@link ResponseCache}: keys, layout, round trips and atomic replacement. */
class ResponseCacheTest {

    @TempDir
    Path dir;

    @Test
    void keysDependOnEveryPartAndAreStable() {
        String k = ResponseCache.key("http://h:1", "/v1/completions", "m", "{}");
        assertEquals(k, ResponseCache.key("http://h:1", "/v1/completions", "m", "{}"));
        assertTrue(k.matches("[0-9a-f]{64}"), k);
        assertNotEquals(k, ResponseCache.key("http://h:2", "/v1/completions", "m", "{}"));
        assertNotEquals(k, ResponseCache.key("http://h:1", "/v1/chat/completions", "m", "{}"));
        assertNotEquals(k, ResponseCache.key("http://h:1", "/v1/completions", "n", "{}"));
        assertNotEquals(k, ResponseCache.key("http://h:1", "/v1/completions", "m", "{ }"));
        assertNotEquals(ResponseCache.key("a", "b", "mc", "d"), ResponseCache.key("a", "b", "m", "cd"),
                "parts are separated, not just concatenated");
        assertEquals(ResponseCache.key("a", "b", null, "d"), ResponseCache.key("a", "b", "", "d"));
    }

    @Test
    void putThenGetAndReplace() throws IOException {
        Path folder = dir.resolve("not-yet");
        ResponseCache cache = new ResponseCache(folder);
        assertEquals(folder, cache.dir());
        String key = ResponseCache.key("e", "/p", "m", "body");
        assertEquals(Optional.empty(), cache.get(key), "a miss before the folder exists");
        cache.put(key, "{\"a\":1}");
        assertEquals(Optional.of("{\"a\":1}"), cache.get(key));
        cache.put(key, "{\"a\":2}");
        assertEquals(Optional.of("{\"a\":2}"), cache.get(key));
        assertEquals(List.of(folder.resolve(key.substring(0, 2)).resolve(key + ".json")), files(folder),
                "one file per request, no temporary file left");
    }

    @Test
    void aFolderWhereTheEntryShouldBeIsAMiss() throws IOException {
        ResponseCache cache = new ResponseCache(dir);
        String key = ResponseCache.key("e", "/p", "m", "body");
        Files.createDirectories(dir.resolve(key.substring(0, 2)).resolve(key + ".json"));
        assertEquals(Optional.empty(), cache.get(key));
    }

    private static List<Path> files(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).toList();
        }
    }
}
