package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import ai.djl.modality.cv.ImageFactory;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ImageInputException;
import org.distillery.models.vision.ImageProcessor;
import org.distillery.models.vision.VisionConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Preprocessing as {@code preprocessor_config.json} says, on PNG and JPEG files, and the errors naming the file. */
class ImageProcessorTest {

    static NDManager base;

    @TempDir
    Path dir;

    @BeforeAll
    static void open() {
        base = NDManager.newBaseManager();
    }

    @AfterAll
    static void close() {
        base.close();
    }

    /** An ARGB image of {@code w} x {@code h} whose pixel (x, y) has red x*10, green y*20, blue 7. */
    static int[] pixels(int w, int h) {
        int[] p = new int[w * h];
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                p[y * w + x] = 0xFF000000 | (x * 10) << 16 | (y * 20) << 8 | 7;
            }
        }
        return p;
    }

    Path write(String name, int w, int h, String format) throws Exception {
        Path f = dir.resolve(name);
        if (format.equals("jpg")) {
            // JPEG has no alpha channel: write an RGB image
            java.awt.image.BufferedImage rgb = new java.awt.image.BufferedImage(w, h,
                    java.awt.image.BufferedImage.TYPE_INT_RGB);
            rgb.setRGB(0, 0, w, h, pixels(w, h), 0, w);
            assertTrue(javax.imageio.ImageIO.write(rgb, "jpg", f.toFile()), "JPEG written");
            return f;
        }
        try (OutputStream out = Files.newOutputStream(f)) {
            ImageFactory.getInstance().fromPixels(pixels(w, h), w, h).save(out, format);
        }
        return f;
    }

    static VisionConfig siglip(int size) {
        return VisionConfig.parse(Map.of("model_type", "siglip_vision_model", "image_size", (long) size,
                "patch_size", 2L, "hidden_size", 8L, "num_attention_heads", 2L));
    }

    @Test
    void rescalesAndNormalisesExactlyWithoutResizingAnImageOfTheRightSize() throws Exception {
        Path png = write("a.png", 4, 4, "png");
        ImageProcessor p = ImageProcessor.defaults(siglip(4));
        try (NDManager m = base.newSubManager()) {
            NDArray px = p.pixelValues(List.of(png, png), m);
            assertEquals(new Shape(2, 3, 4, 4), px.getShape());
            float[] v = px.toFloatArray();
            // channel 0 (red) at y = 1, x = 3: (30 / 255 - 0.5) / 0.5
            assertEquals((30 / 255f - 0.5f) / 0.5f, v[0 * 16 + 1 * 4 + 3], 1e-6);
            // channel 1 (green) at y = 2, x = 0: 40
            assertEquals((40 / 255f - 0.5f) / 0.5f, v[1 * 16 + 2 * 4], 1e-6);
            // channel 2 (blue) everywhere 7
            assertEquals((7 / 255f - 0.5f) / 0.5f, v[2 * 16 + 5], 1e-6);
        }
    }

    @Test
    void padsToASquareWithTheMeanColourThenResizes() throws Exception {
        Path png = write("wide.png", 6, 2, "png");
        ImageProcessor p = ImageProcessor.of(Map.of("do_pad", true, "size", Map.of("height", 6L, "width", 6L),
                "image_mean", List.of(0.5, 0.5, 0.5), "image_std", List.of(0.5, 0.5, 0.5)), "test");
        try (NDManager m = base.newSubManager()) {
            NDArray px = p.pixelValues(List.of(png), m);
            assertEquals(new Shape(1, 3, 6, 6), px.getShape());
            float[] v = px.toFloatArray();
            // rows 0-1 are padding: the mean colour int(0.5 * 255) = 127
            assertEquals((127 / 255f - 0.5f) / 0.5f, v[0], 1e-6);
            // row 2 is the image's first row: red at x = 1 is 10
            assertEquals((10 / 255f - 0.5f) / 0.5f, v[2 * 6 + 1], 1e-6);
        }
        ImageProcessor resize = ImageProcessor.defaults(siglip(4));
        try (NDManager m = base.newSubManager()) {
            assertEquals(new Shape(1, 3, 4, 4), resize.pixelValues(List.of(png), m).getShape());
        }
    }

    @Test
    void clipResizesTheShortestEdgeAndCentreCrops() throws Exception {
        Path jpg = write("photo.jpg", 12, 8, "jpg");
        VisionConfig clip = VisionConfig.parse(Map.of("model_type", "clip_vision_model", "image_size", 4L,
                "patch_size", 2L, "hidden_size", 8L, "num_attention_heads", 2L));
        try (NDManager m = base.newSubManager()) {
            NDArray px = ImageProcessor.defaults(clip).pixelValues(List.of(jpg), m);
            assertEquals(new Shape(1, 3, 4, 4), px.getShape());
        }
    }

    @Test
    void missingCorruptAndNonImageFilesNameTheFile() throws Exception {
        ImageProcessor p = ImageProcessor.defaults(siglip(4));
        Path missing = dir.resolve("nope.png");
        Path corrupt = dir.resolve("broken.png");
        Files.write(corrupt, new byte[] {(byte) 0x89, 'P', 'N', 'G', 1, 2, 3});
        Path text = dir.resolve("notes.jpg");
        Files.writeString(text, "not an image");
        try (NDManager m = base.newSubManager()) {
            for (Path f : List.of(missing, corrupt, text)) {
                ImageInputException e = assertThrows(ImageInputException.class, () -> p.pixelValues(List.of(f), m));
                assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
                assertEquals(f, e.file());
            }
        }
    }

    @Test
    void badPreprocessorConfigsAreRejected() {
        var e = assertThrows(IllegalArgumentException.class,
                () -> ImageProcessor.of(Map.of("size", Map.of("height", 4L, "width", 4L), "resample", 5L), "cfg.json"));
        assertTrue(e.getMessage().contains("cfg.json") && e.getMessage().contains("resample"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> ImageProcessor.of(Map.of("size", 4L, "image_std", List.of(0.5, 0.0, 0.5)), "cfg.json"));
        assertTrue(e.getMessage().contains("image_std"), e.getMessage());
    }
}
