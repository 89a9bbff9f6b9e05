package org.distillery.data.synthetic.vision;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonObject;

import org.distillery.api.data.Example;
import org.distillery.data.JsonlDataService;
import org.distillery.kit.io.AtomicFiles;

/**
 * The deterministic synthetic image suite ({@code distill data synth-vision}): small square images of
 * coloured shapes and digits, each with a caption (for distilled pre-training) and questions with
 * one exact answer (for fine-tuning and accuracy). Four kinds of scene:
 * <ul>
 *   <li>{@code single}: one circle, square or triangle: questions of type {@code color} and {@code shape};</li>
 *   <li>{@code pair}: two different shapes left/right or above/below each other: {@code spatial}
 *       (left, right, above, below) and {@code color};</li>
 *   <li>{@code count}: one to five equal shapes on a 3×3 grid: {@code count} (1-5);</li>
 *   <li>{@code digit}: a digit 0-9 of a built-in 5×7 bitmap font: {@code digit} and {@code color}.</li>
 * </ul>
 * Captions have {@code meta.task = caption}; every record has {@code meta.kind} and
 * {@code meta.label} (the answer). Everything comes from one {@link SplittableRandom} per split and
 * integer drawing ({@link Canvas}), so a seed gives the same records and pixel-identical images on
 * every JDK.
 *
 * <p>Files: {@code images/<split>/<n>.png}; per split {@code captions-<split>.jsonl} and
 * {@code qa-<split>.jsonl}; {@code validation.jsonl} and {@code test.jsonl} (both kinds, scene by
 * scene, for evaluation); {@code qa-text-<split>.jsonl}, the same questions without the image, the
 * scene described in words in the prompt ({@code "Scene: <caption>. <question>"}: zero-resource
 * dialogue data, VIKDF's setting); {@code corpus.jsonl}
 * (text-only captions of further scenes, for pre-training a language model); {@code suite.json}.
 */
public final class VisionSuite {

    /** The splits. */
    public static final List<String> SPLITS = List.of("train", "validation", "test");
    /** The question types, in the order of {@code suite.json}. */
    public static final List<String> TASKS = List.of("caption", "color", "shape", "count", "spatial", "digit");

    private static final String[] COLOR_NAMES = {"red", "green", "blue", "yellow", "purple", "white"};
    private static final int[] COLORS = {0xDC2828, 0x28B43C, 0x3250E6, 0xE6D228, 0xA03CC8, 0xEBEBEB};
    private static final int BACKGROUND = 0x141414;
    private static final String[] NUMBERS = {"zero", "one", "two", "three", "four", "five"};
    private static final String[] CAPTION_PROMPTS = {"Describe the image.", "What does the picture show?",
        "Write a short caption for this image."};

    private final VisionSuiteSettings settings;

    /** A suite of these settings. */
    public VisionSuite(VisionSuiteSettings settings) {
        this.settings = settings;
    }

    /** One drawn scene: its image, caption and questions. */
    record Scene(String kind, Canvas canvas, String caption, List<Qa> questions) {
    }

    /** One question with its answer and type. */
    record Qa(String task, String question, String answer) {
    }

    /** What {@link #write} produced, per split and task. */
    public record Summary(Map<String, Map<String, Integer>> counts, int corpus) {
        @Override
        public String toString() {
            StringBuilder sb = new StringBuilder();
            counts.forEach((split, c) -> sb.append(split).append(' ').append(c).append("; "));
            return sb.append("corpus ").append(corpus).toString();
        }
    }

    /**
     * Writes the suite into {@code dir} (created if missing; files replaced atomically).
     *
     * @return the record counts
     */
    public Summary write(Path dir) throws IOException {
        Files.createDirectories(dir);
        JsonlDataService data = new JsonlDataService();
        Map<String, Map<String, Integer>> counts = new LinkedHashMap<>();
        int[] sizes = {settings.trainScenes(), settings.validationScenes(), settings.testScenes()};
        for (int s = 0; s < SPLITS.size(); s++) {
            String split = SPLITS.get(s);
            Path images = dir.resolve("images").resolve(split);
            Files.createDirectories(images);
            SplittableRandom random = new SplittableRandom(settings.seed() * 31 + s);
            List<Example> captions = new ArrayList<>();
            List<Example> qa = new ArrayList<>();
            List<Example> described = new ArrayList<>();
            List<Example> all = new ArrayList<>();
            Map<String, Integer> byTask = new TreeMap<>();
            TASKS.forEach(t -> byTask.put(t, 0));
            for (int i = 0; i < sizes[s]; i++) {
                Scene scene = scene(random, true);
                Path image = images.resolve(String.format(Locale.ROOT, "%05d.png", i));
                scene.canvas().writePng(image);
                String id = split + "-" + String.format(Locale.ROOT, "%05d", i);
                String abs = image.toAbsolutePath().normalize().toString();
                Example caption = Example.imagePair(id + "-caption", abs,
                        CAPTION_PROMPTS[random.nextInt(CAPTION_PROMPTS.length)], scene.caption(),
                        Map.of("task", "caption", "kind", scene.kind(), "label", scene.caption()));
                captions.add(caption);
                all.add(caption);
                byTask.merge("caption", 1, Integer::sum);
                for (Qa q : scene.questions()) {
                    Example e = Example.imagePair(id + "-" + q.task(), abs, q.question(), q.answer(),
                            Map.of("task", q.task(), "kind", scene.kind(), "label", q.answer()));
                    qa.add(e);
                    all.add(e);
                    described.add(Example.pair(id + "-" + q.task() + "-text", "Scene: " + scene.caption() + ". "
                            + q.question(), q.answer(), Map.of("task", q.task(), "kind", scene.kind(), "label", q.answer())));
                    byTask.merge(q.task(), 1, Integer::sum);
                }
            }
            data.writeJsonl(dir.resolve("captions-" + split + ".jsonl"), captions);
            data.writeJsonl(dir.resolve("qa-" + split + ".jsonl"), qa);
            data.writeJsonl(dir.resolve("qa-text-" + split + ".jsonl"), described);
            if (!split.equals("train")) {
                // the evaluation splits hold both kinds; training stages read captions and questions apart
                data.writeJsonl(dir.resolve(split + ".jsonl"), all);
            }
            counts.put(split, byTask);
        }
        SplittableRandom corpusRandom = new SplittableRandom(settings.seed() * 31 + 7);
        List<Example> corpus = new ArrayList<>();
        for (int i = 0; i < settings.corpus(); i++) {
            corpus.add(Example.text("corpus-" + i, scene(corpusRandom, false).caption()));
        }
        data.writeJsonl(dir.resolve("corpus.jsonl"), corpus);
        JsonObject o = new JsonObject();
        o.addProperty("format", "distillery-vision-suite");
        o.addProperty("version", 1);
        o.add("settings", settings.toJson());
        JsonObject c = new JsonObject();
        counts.forEach((split, byTask) -> {
            JsonObject t = new JsonObject();
            byTask.forEach(t::addProperty);
            c.add(split, t);
        });
        c.addProperty("corpus", corpus.size());
        o.add("counts", c);
        AtomicFiles.writeString(dir.resolve("suite.json"),
                new GsonBuilder().setPrettyPrinting().create().toJson(o) + "\n");
        return new Summary(counts, corpus.size());
    }

    /** Draws one scene; {@code draw} false skips the pixels (corpus lines). */
    Scene scene(SplittableRandom r, boolean draw) {
        int size = draw ? settings.imageSize() : 48;
        Canvas canvas = new Canvas(size, BACKGROUND);
        int kind = r.nextInt(20);
        Scene s;
        if (kind < 5) {
            s = single(r, canvas);
        } else if (kind < 11) {
            s = pair(r, canvas);
        } else if (kind < 16) {
            s = count(r, canvas);
        } else {
            s = digit(r, canvas);
        }
        if (draw) {
            canvas.addNoise(r, settings.noise());
        }
        return s;
    }

    private static int scaled(Canvas c, int at48) {
        return at48 * c.size() / 48;
    }

    private Scene single(SplittableRandom r, Canvas c) {
        Canvas.Shape shape = Canvas.Shape.values()[r.nextInt(3)];
        int color = r.nextInt(COLORS.length);
        int radius = scaled(c, 6 + r.nextInt(5));
        int margin = radius + 2;
        int x = margin + r.nextInt(c.size() - 2 * margin);
        int y = margin + r.nextInt(c.size() - 2 * margin);
        c.shape(shape, x, y, radius, COLORS[color]);
        boolean big = radius >= scaled(c, 9);
        String caption = "a " + (big ? "large " : "small ") + COLOR_NAMES[color] + " " + shape.word();
        List<Qa> qa = new ArrayList<>();
        qa.add(new Qa("color", pick(r, "What color is the " + shape.word() + "?",
                "Which color does the " + shape.word() + " have?"), COLOR_NAMES[color]));
        qa.add(new Qa("shape", pick(r, "What shape is in the image?", "Which shape do you see?"), shape.word()));
        return new Scene("single", c, caption, qa);
    }

    private Scene pair(SplittableRandom r, Canvas c) {
        Canvas.Shape a = Canvas.Shape.values()[r.nextInt(3)];
        Canvas.Shape b = Canvas.Shape.values()[(a.ordinal() + 1 + r.nextInt(2)) % 3];
        int ca = r.nextInt(COLORS.length);
        int cb = r.nextInt(COLORS.length);
        boolean horizontal = r.nextBoolean();
        boolean aFirst = r.nextBoolean();
        int radius = scaled(c, 5 + r.nextInt(3));
        int near = scaled(c, 9) + r.nextInt(scaled(c, 7));
        int far = c.size() - scaled(c, 9) - r.nextInt(scaled(c, 7));
        int other1 = scaled(c, 10) + r.nextInt(c.size() - scaled(c, 20));
        int other2 = scaled(c, 10) + r.nextInt(c.size() - scaled(c, 20));
        int ax = horizontal ? (aFirst ? near : far) : other1;
        int ay = horizontal ? other1 : (aFirst ? near : far);
        int bx = horizontal ? (aFirst ? far : near) : other2;
        int by = horizontal ? other2 : (aFirst ? far : near);
        c.shape(a, ax, ay, radius, COLORS[ca]);
        c.shape(b, bx, by, radius, COLORS[cb]);
        String relation = horizontal ? (aFirst ? "left" : "right") : (aFirst ? "above" : "below");
        String nameA = COLOR_NAMES[ca] + " " + a.word();
        String nameB = COLOR_NAMES[cb] + " " + b.word();
        String phrase = switch (relation) {
            case "left" -> "to the left of";
            case "right" -> "to the right of";
            case "above" -> "above";
            default -> "below";
        };
        String caption = "a " + nameA + " " + phrase + " a " + nameB;
        List<Qa> qa = new ArrayList<>();
        String question = horizontal && r.nextBoolean()
                ? "Is the " + a.word() + " left or right of the " + b.word() + "?"
                : "Where is the " + nameA + " relative to the " + nameB + "?";
        qa.add(new Qa("spatial", question, relation));
        qa.add(new Qa("color", "What color is the " + b.word() + "?", COLOR_NAMES[cb]));
        return new Scene("pair", c, caption, qa);
    }

    private Scene count(SplittableRandom r, Canvas c) {
        Canvas.Shape shape = Canvas.Shape.values()[r.nextInt(3)];
        int color = r.nextInt(COLORS.length);
        int n = 1 + r.nextInt(5);
        int[] cells = {0, 1, 2, 3, 4, 5, 6, 7, 8};
        for (int i = 0; i < n; i++) {
            int j = i + r.nextInt(cells.length - i);
            int t = cells[i];
            cells[i] = cells[j];
            cells[j] = t;
        }
        int cell = c.size() / 3;
        int radius = scaled(c, 5);
        int jitter = Math.max(1, scaled(c, 2));
        for (int i = 0; i < n; i++) {
            int cx = (cells[i] % 3) * cell + cell / 2 + r.nextInt(-jitter, jitter + 1);
            int cy = (cells[i] / 3) * cell + cell / 2 + r.nextInt(-jitter, jitter + 1);
            c.shape(shape, cx, cy, radius, COLORS[color]);
        }
        String caption = NUMBERS[n] + " " + COLOR_NAMES[color] + " " + shape.word() + (n == 1 ? "" : "s");
        String question = pick(r, "How many " + shape.word() + "s are there?",
                "Count the " + shape.word() + "s in the image.");
        return new Scene("count", c, caption, List.of(new Qa("count", question, Integer.toString(n))));
    }

    private Scene digit(SplittableRandom r, Canvas c) {
        int d = r.nextInt(10);
        int color = r.nextInt(COLORS.length);
        int scale = Math.max(1, scaled(c, 4));
        int w = Canvas.GLYPH_WIDTH * scale;
        int h = Canvas.GLYPH_HEIGHT * scale;
        int x = r.nextInt(Math.max(1, c.size() - w - 2)) + 1;
        int y = r.nextInt(Math.max(1, c.size() - h - 2)) + 1;
        c.digit(d, x, y, scale, COLORS[color]);
        String caption = "the digit " + d + " in " + COLOR_NAMES[color];
        List<Qa> qa = new ArrayList<>();
        qa.add(new Qa("digit", pick(r, "What digit is shown?", "Which number is written in the image?"),
                Integer.toString(d)));
        qa.add(new Qa("color", "What color is the digit?", COLOR_NAMES[color]));
        return new Scene("digit", c, caption, qa);
    }

    private static String pick(SplittableRandom r, String a, String b) {
        return r.nextBoolean() ? a : b;
    }
}
