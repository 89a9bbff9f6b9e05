package org.distillery.data.synthetic.vision;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import javax.imageio.ImageIO;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The synthetic image suite is deterministic down to the pixel (pinned hashes of decoded pixels,
 * so a JDK whose PNG encoder compresses differently still matches), and its records read back
 * with their images resolved.
 */
class VisionSuiteTest {

    @TempDir
    Path dir;

    static final VisionSuiteSettings SMALL = VisionSuiteSettings.defaults().withSeed(1).withSizes(12, 2, 3, 5);

    /** SHA-256 of the decoded RGB pixels of an image file. */
    static String pixelHash(Path png) throws Exception {
        BufferedImage img = ImageIO.read(png.toFile());
        int[] rgb = img.getRGB(0, 0, img.getWidth(), img.getHeight(), null, 0, img.getWidth());
        ByteBuffer b = ByteBuffer.allocate(rgb.length * 4);
        for (int p : rgb) {
            b.putInt(p & 0xFFFFFF);
        }
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b.array()));
    }

    @Test
    void sameSeedSamePixelsAndRecords() throws Exception {
        Path a = dir.resolve("a");
        Path b = dir.resolve("b");
        new VisionSuite(SMALL).write(a);
        new VisionSuite(SMALL).write(b);
        for (String f : List.of("test.jsonl", "captions-train.jsonl", "qa-test.jsonl", "corpus.jsonl", "suite.json")) {
            assertEquals(Files.readString(a.resolve(f)), Files.readString(b.resolve(f)), f);
        }
        for (int i = 0; i < 12; i++) {
            String name = String.format("images/train/%05d.png", i);
            assertEquals(pixelHash(a.resolve(name)), pixelHash(b.resolve(name)), name);
        }
        // pinned: the same pixels on every JDK and machine
        assertEquals("93fa235adecdabc9", pixelHash(a.resolve("images/train/00000.png")).substring(0, 16));
        assertEquals("395b28872b1deea5", pixelHash(a.resolve("images/test/00002.png")).substring(0, 16));
        assertEquals(12, new VisionSuite(SMALL.withSeed(2)).write(dir.resolve("c")).counts().get("train").get("caption"));
        assertTrue(!pixelHash(a.resolve("images/train/00000.png")).equals(pixelHash(dir.resolve("c/images/train/00000.png"))),
                "another seed draws other scenes");
    }

    @Test
    void recordsReadBackWithImagesRelativeToTheirFile() throws Exception {
        new VisionSuite(SMALL).write(dir);
        JsonlDataService data = new JsonlDataService();
        List<Example> qa = data.readJsonl(dir.resolve("qa-train.jsonl"));
        List<Example> captions = data.readJsonl(dir.resolve("captions-train.jsonl"));
        assertEquals(12, captions.size());
        assertTrue(qa.size() >= 12, "one or two questions per scene");
        for (Example e : qa) {
            assertTrue(e.hasImage() && Path.of(e.image()).isAbsolute() && Files.exists(Path.of(e.image())), e.toString());
            assertTrue(VisionSuite.TASKS.contains(e.meta().get("task")), e.toString());
            assertEquals(e.response(), e.meta().get("label"));
        }
        Set<String> tasks = qa.stream().map(e -> e.meta().get("task")).collect(Collectors.toSet());
        assertTrue(tasks.size() >= 4, "several question types: " + tasks);
        String line = Files.readAllLines(dir.resolve("qa-train.jsonl")).get(0);
        assertTrue(line.contains("\"image\":\"images/train/00000.png\""), line);
        List<Example> described = data.readJsonl(dir.resolve("qa-text-train.jsonl"));
        assertEquals(qa.size(), described.size());
        for (int i = 0; i < qa.size(); i++) {
            assertTrue(!described.get(i).hasImage() && described.get(i).prompt().startsWith("Scene: ")
                    && described.get(i).prompt().endsWith(qa.get(i).prompt())
                    && described.get(i).response().equals(qa.get(i).response()), described.get(i).toString());
        }
        List<Example> corpus = data.readJsonl(dir.resolve("corpus.jsonl"));
        assertEquals(5, corpus.size());
        assertTrue(corpus.stream().allMatch(e -> e.text() != null && !e.hasImage()));
    }
}
