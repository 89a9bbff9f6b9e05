package org.distillery.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import org.distillery.api.data.Example;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Image records in JSONL: paths relative to the file, chat image parts, and every bad case named by file and line. */
class ImageRecordsTest {

    @TempDir
    Path dir;

    final JsonlDataService data = new JsonlDataService();

    @BeforeEach
    void images() throws Exception {
        Files.createDirectories(dir.resolve("img"));
        for (String f : new String[] {"a.png", "b.jpg"}) {
            java.awt.image.BufferedImage img = new java.awt.image.BufferedImage(4, 3,
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            javax.imageio.ImageIO.write(img, f.endsWith("png") ? "png" : "jpg", dir.resolve("img/" + f).toFile());
        }
        Files.writeString(dir.resolve("img/c.png"), "not an image at all");
        // a PNG signature followed by garbage: the header cannot be read
        Files.write(dir.resolve("img/d.png"), new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 5, 'X'});
    }

    Path file(String... lines) throws Exception {
        Path f = dir.resolve("data.jsonl");
        Files.writeString(f, String.join("\n", lines) + "\n");
        return f;
    }

    @Test
    void pairsAndChatsWithImagesReadAndWriteBackRelative() throws Exception {
        Path f = file("{\"image\": \"img/a.png\", \"prompt\": \"How many?\", \"response\": \"3\"}",
                "{\"prompt\": \"text only\", \"response\": \"ok\"}",
                "{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\", \"image\": \"img/b.jpg\"},"
                        + " {\"type\": \"text\", \"text\": \"What color?\"}]}, {\"role\": \"assistant\", \"content\": \"red\"}]}",
                "{\"image\": \"img/a.png\", \"prompt\": \"Look: <image> what is it?\", \"response\": \"a circle\"}");
        List<Example> ex = data.readJsonl(f);
        assertEquals(dir.resolve("img/a.png").toAbsolutePath().normalize().toString(), ex.get(0).image());
        assertNull(ex.get(1).image());
        assertEquals(dir.resolve("img/b.jpg").toAbsolutePath().normalize().toString(), ex.get(2).image());
        assertEquals("<image>\nWhat color?", ex.get(2).messages().get(0).content());
        Path out = dir.resolve("sub/copy.jsonl");
        Files.createDirectories(out.getParent());
        data.writeJsonl(out, ex);
        String written = Files.readString(out);
        assertTrue(written.contains("\"image\":\"../img/a.png\""), written);
        assertEquals(ex, data.readJsonl(out));
    }

    @Test
    void badImageRecordsNameFileAndLine() throws Exception {
        String[][] cases = {
            {"{\"image\": \"img/missing.png\", \"prompt\": \"q\", \"response\": \"a\"}", "no such file"},
            {"{\"image\": \"img/c.png\", \"prompt\": \"q\", \"response\": \"a\"}", "not a PNG or JPEG file"},
            {"{\"image\": \"img/d.png\", \"prompt\": \"q\", \"response\": \"a\"}", "unreadable PNG header"},
            {"{\"prompt\": \"<image> q\", \"response\": \"a\"}", "has no \"image\""},
            {"{\"image\": \"img/a.png\", \"prompt\": \"<image> and <image>\", \"response\": \"a\"}", "one image per record"},
            {"{\"image\": \"img/a.png\", \"text\": \"t\"}", "cannot have an \"image\""},
            {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"image\", \"image\": \"img/a.png\"}, "
                    + "{\"type\": \"image\", \"image\": \"img/b.jpg\"}]}]}", "second image"},
            {"{\"messages\": [{\"role\": \"user\", \"content\": [{\"type\": \"video\"}]}]}", "unknown part type"},
            {"{\"image\": \"img/a.png\", \"messages\": [{\"role\": \"user\", \"content\": \"q\"}, "
                    + "{\"role\": \"assistant\", \"content\": \"<image>\"}]}", "assistant message"},
        };
        for (String[] c : cases) {
            Path f = file("{\"prompt\": \"fine\", \"response\": \"ok\"}", c[0]);
            JsonlFormatException e = assertThrows(JsonlFormatException.class, () -> data.readJsonl(f), c[0]);
            assertTrue(e.getMessage().startsWith(f + ":2: ") && e.getMessage().contains(c[1]), e.getMessage());
        }
    }
}
