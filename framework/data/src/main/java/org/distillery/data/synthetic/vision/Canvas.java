package org.distillery.data.synthetic.vision;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Path;

import javax.imageio.ImageIO;

import org.distillery.kit.io.AtomicFiles;

/**
 * A square RGB image drawn with integer arithmetic only (no anti-aliasing, no Java2D), so the same
 * seed gives the same pixels on every JDK: filled circles, squares and triangles by exact
 * point-in-shape tests, and digits from a built-in 5×7 bitmap font.
 */
final class Canvas {

    /** The digits 0-9 of a 5x7 bitmap font, one string of 5 bits per row. */
    private static final String[][] FONT = {
        {"01110", "10001", "10011", "10101", "11001", "10001", "01110"},
        {"00100", "01100", "00100", "00100", "00100", "00100", "01110"},
        {"01110", "10001", "00001", "00010", "00100", "01000", "11111"},
        {"11111", "00010", "00100", "00010", "00001", "10001", "01110"},
        {"00010", "00110", "01010", "10010", "11111", "00010", "00010"},
        {"11111", "10000", "11110", "00001", "00001", "10001", "01110"},
        {"00110", "01000", "10000", "11110", "10001", "10001", "01110"},
        {"11111", "00001", "00010", "00100", "01000", "01000", "01000"},
        {"01110", "10001", "10001", "01110", "10001", "10001", "01110"},
        {"01110", "10001", "10001", "01111", "00001", "00010", "01100"},
    };

    /** Font glyph width in cells. */
    static final int GLYPH_WIDTH = 5;
    /** Font glyph height in cells. */
    static final int GLYPH_HEIGHT = 7;

    private final int size;
    private final int[] rgb;

    /** A canvas of {@code size} × {@code size} filled with {@code background} (0xRRGGBB). */
    Canvas(int size, int background) {
        this.size = size;
        this.rgb = new int[size * size];
        java.util.Arrays.fill(rgb, background);
    }

    int size() {
        return size;
    }

    /** The pixels, row-major, 0xRRGGBB. */
    int[] pixels() {
        return rgb.clone();
    }

    private void set(int x, int y, int color) {
        if (x >= 0 && y >= 0 && x < size && y < size) {
            rgb[y * size + x] = color;
        }
    }

    /** A filled shape of "radius" {@code r} centred at ({@code cx}, {@code cy}). */
    void shape(Shape shape, int cx, int cy, int r, int color) {
        for (int y = cy - r; y <= cy + r; y++) {
            for (int x = cx - r; x <= cx + r; x++) {
                int dx = x - cx;
                int dy = y - cy;
                boolean inside = switch (shape) {
                    case CIRCLE -> dx * dx + dy * dy <= r * r;
                    case SQUARE -> Math.abs(dx) <= r - 1 && Math.abs(dy) <= r - 1;
                    // apex at the top, base at the bottom: |dx| grows linearly from 0 at the top row to r
                    case TRIANGLE -> 2 * r * Math.abs(dx) <= r * (dy + r) && dy <= r;
                };
                if (inside) {
                    set(x, y, color);
                }
            }
        }
    }

    /** Digit {@code d} with its top-left corner at ({@code x0}, {@code y0}), each font cell {@code scale} pixels. */
    void digit(int d, int x0, int y0, int scale, int color) {
        String[] rows = FONT[d];
        for (int row = 0; row < GLYPH_HEIGHT; row++) {
            for (int col = 0; col < GLYPH_WIDTH; col++) {
                if (rows[row].charAt(col) == '1') {
                    for (int y = 0; y < scale; y++) {
                        for (int x = 0; x < scale; x++) {
                            set(x0 + col * scale + x, y0 + row * scale + y, color);
                        }
                    }
                }
            }
        }
    }

    /** Adds {@code noise} (a value in [-amplitude, amplitude] per pixel and channel), clamped to 0..255. */
    void addNoise(java.util.SplittableRandom random, int amplitude) {
        if (amplitude <= 0) {
            return;
        }
        for (int i = 0; i < rgb.length; i++) {
            int r = clamp(((rgb[i] >> 16) & 0xFF) + random.nextInt(-amplitude, amplitude + 1));
            int g = clamp(((rgb[i] >> 8) & 0xFF) + random.nextInt(-amplitude, amplitude + 1));
            int b = clamp((rgb[i] & 0xFF) + random.nextInt(-amplitude, amplitude + 1));
            rgb[i] = r << 16 | g << 8 | b;
        }
    }

    private static int clamp(int v) {
        return Math.max(0, Math.min(255, v));
    }

    /** Writes the image as a PNG atomically. */
    void writePng(Path file) throws IOException {
        BufferedImage img = new BufferedImage(size, size, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, size, size, rgb, 0, size);
        AtomicFiles.write(file, out -> {
            if (!ImageIO.write(img, "png", out)) {
                throw new IOException("no PNG writer in this JDK");
            }
        });
    }

    /** The shapes a scene draws. */
    enum Shape {
        /** A filled circle. */
        CIRCLE,
        /** A filled square. */
        SQUARE,
        /** A filled triangle, apex up. */
        TRIANGLE;

        /** The word. */
        String word() {
            return name().toLowerCase(java.util.Locale.ROOT);
        }
    }
}
