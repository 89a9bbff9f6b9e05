package org.distillery.models.vision;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import ai.djl.modality.cv.Image;
import ai.djl.modality.cv.ImageFactory;
import ai.djl.modality.cv.util.NDImageUtils;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ImageInputException;

/**
 * Image preprocessing as a Hugging Face {@code preprocessor_config.json} describes it
 * ({@code SiglipImageProcessor}, {@code CLIPImageProcessor}, {@code LlavaImageProcessor}), with
 * DJL's {@code ai.djl.modality.cv}: decode (PNG or JPEG) to RGB, pad to a square
 * ({@code do_pad}, or LLaVA's {@code image_aspect_ratio = pad}: the background is
 * {@code image_mean} × 255, the image centred), resize ({@code size} as {@code height}/{@code width},
 * or {@code shortest_edge} keeping the aspect ratio; {@code resample} 0 nearest, 2 bilinear,
 * 3 bicubic; rounded back to 8 bits as PIL does), centre crop ({@code crop_size}), rescale
 * ({@code rescale_factor}, 1/255) and normalise ({@code image_mean}, {@code image_std}), channels
 * first.
 *
 * <p>Resizing runs on the engine ({@code torch.nn.functional.interpolate}), not PIL, so resized
 * images differ from Hugging Face's by rounding and antialiasing; an image already at the target
 * size is not resized (as PIL's identity resize), so such inputs match exactly.
 */
public final class ImageProcessor {

    /** The file name in a model folder. */
    public static final String FILE = "preprocessor_config.json";

    /** OpenAI CLIP's normalisation mean. */
    static final List<Double> CLIP_MEAN = List.of(0.48145466, 0.4578275, 0.40821073);
    /** OpenAI CLIP's normalisation std. */
    static final List<Double> CLIP_STD = List.of(0.26862954, 0.26130258, 0.27577711);

    private final Map<String, Object> raw;
    private final boolean pad;
    private final boolean resize;
    private final int height;
    private final int width;
    private final int shortestEdge;
    private final Image.Interpolation interpolation;
    private final boolean centerCrop;
    private final int cropHeight;
    private final int cropWidth;
    private final boolean rescale;
    private final double rescaleFactor;
    private final boolean normalize;
    private final float[] mean;
    private final float[] std;

    private ImageProcessor(Map<String, Object> given, String where) {
        raw = Collections.unmodifiableMap(new LinkedHashMap<>(given));
        pad = bool(raw, "do_pad", false, where) || "pad".equals(raw.get("image_aspect_ratio"));
        resize = bool(raw, "do_resize", true, where);
        Object size = raw.get("size");
        int h = 0;
        int w = 0;
        int se = 0;
        if (size instanceof Number n) {
            h = w = positive(n, where + ": size");
        } else if (size instanceof Map<?, ?> sm) {
            if (sm.containsKey("shortest_edge")) {
                se = positive(sm.get("shortest_edge"), where + ": size.shortest_edge");
            } else {
                h = positive(sm.get("height"), where + ": size.height");
                w = positive(sm.get("width"), where + ": size.width");
            }
        } else if (resize) {
            throw new IllegalArgumentException(where + ": size must be a number or an object with height and width "
                    + "or shortest_edge (got " + size + ")");
        }
        height = h;
        width = w;
        shortestEdge = se;
        int resample = raw.get("resample") instanceof Number r ? r.intValue() : 3;
        interpolation = switch (resample) {
            case 0 -> Image.Interpolation.NEAREST;
            case 2 -> Image.Interpolation.BILINEAR;
            case 3 -> Image.Interpolation.BICUBIC;
            default -> throw new IllegalArgumentException(where + ": resample " + resample
                    + " is not supported (accepted: 0 nearest, 2 bilinear, 3 bicubic)");
        };
        centerCrop = bool(raw, "do_center_crop", false, where);
        Object crop = raw.get("crop_size");
        if (centerCrop) {
            if (crop instanceof Number n) {
                cropHeight = cropWidth = positive(n, where + ": crop_size");
            } else if (crop instanceof Map<?, ?> cm) {
                cropHeight = positive(cm.get("height"), where + ": crop_size.height");
                cropWidth = positive(cm.get("width"), where + ": crop_size.width");
            } else {
                throw new IllegalArgumentException(where + ": do_center_crop needs crop_size (got " + crop + ")");
            }
        } else {
            cropHeight = 0;
            cropWidth = 0;
        }
        rescale = bool(raw, "do_rescale", true, where);
        rescaleFactor = raw.get("rescale_factor") instanceof Number r ? r.doubleValue() : 1.0 / 255;
        normalize = bool(raw, "do_normalize", true, where);
        mean = triple(raw.getOrDefault("image_mean", List.of(0.5, 0.5, 0.5)), where + ": image_mean");
        std = triple(raw.getOrDefault("image_std", List.of(0.5, 0.5, 0.5)), where + ": image_std");
        for (float s : std) {
            if (!(s > 0)) {
                throw new IllegalArgumentException(where + ": image_std must be positive (got " + raw.get("image_std")
                        + ")");
            }
        }
    }

    /**
     * A processor from the fields of a {@code preprocessor_config.json}.
     *
     * @param where the file, for messages
     */
    public static ImageProcessor of(Map<String, Object> fields, String where) {
        return new ImageProcessor(fields, where);
    }

    /** The processor of a model folder: its {@code preprocessor_config.json}, else the tower's defaults. */
    public static ImageProcessor forModel(Path dir, VisionConfig tower) throws IOException {
        Path file = dir.resolve(FILE);
        if (!Files.exists(file)) {
            return defaults(tower);
        }
        try {
            return of(org.distillery.models.io.Json.readMap(file), file.toString());
        } catch (IllegalArgumentException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /**
     * The Hugging Face defaults of the tower's image processor at the tower's size: SigLIP resizes to
     * the square size with mean and std 0.5; CLIP resizes the shortest edge and centre-crops, with
     * OpenAI's mean and std. Bicubic, rescale 1/255.
     */
    public static ImageProcessor defaults(VisionConfig tower) {
        Map<String, Object> m = new LinkedHashMap<>();
        long s = tower.imageSize;
        if (tower.isClip()) {
            m.put("image_processor_type", "CLIPImageProcessor");
            m.put("do_resize", true);
            m.put("size", Map.of("shortest_edge", s));
            m.put("resample", 3L);
            m.put("do_center_crop", true);
            m.put("crop_size", Map.of("height", s, "width", s));
            m.put("do_rescale", true);
            m.put("rescale_factor", 1.0 / 255);
            m.put("do_normalize", true);
            m.put("image_mean", CLIP_MEAN);
            m.put("image_std", CLIP_STD);
        } else {
            m.put("image_processor_type", "SiglipImageProcessor");
            m.put("do_resize", true);
            m.put("size", Map.of("height", s, "width", s));
            m.put("resample", 3L);
            m.put("do_rescale", true);
            m.put("rescale_factor", 1.0 / 255);
            m.put("do_normalize", true);
            m.put("image_mean", List.of(0.5, 0.5, 0.5));
            m.put("image_std", List.of(0.5, 0.5, 0.5));
        }
        m.put("do_convert_rgb", true);
        return new ImageProcessor(m, "default image processor");
    }

    /** The fields, as written to {@code preprocessor_config.json}. */
    public Map<String, Object> fields() {
        return raw;
    }

    /** A stable description of what the processor does, for comparing two models' preprocessing. */
    public String describe() {
        return String.format(Locale.ROOT, "pad=%s resize=%s %dx%d/%d %s crop=%s %dx%d rescale=%s %.8f normalize=%s "
                        + "mean=%s std=%s", pad, resize, height, width, shortestEdge, interpolation, centerCrop,
                cropHeight, cropWidth, rescale, rescaleFactor, normalize, java.util.Arrays.toString(mean),
                java.util.Arrays.toString(std));
    }

    /**
     * Pixel values [images, 3, H, W] (float32) of {@code files}, in order.
     *
     * @throws ImageInputException naming the file that is missing, unreadable or not an image
     */
    public NDArray pixelValues(List<Path> files, NDManager manager) {
        if (files.isEmpty()) {
            throw new IllegalArgumentException("no images");
        }
        NDList out = new NDList(files.size());
        try (NDManager tmp = manager.newSubManager()) {
            for (Path f : files) {
                NDArray one = process(decode(f, tmp), f);
                out.add(one);
            }
            NDArray stacked = NDArrays.stack(out, 0);
            stacked.attach(manager);
            return stacked;
        }
    }

    /** Reads an image file as RGB [height, width, 3] uint8. */
    static NDArray decode(Path file, NDManager manager) {
        if (!Files.isRegularFile(file)) {
            throw new ImageInputException(file, "image " + file + ": no such file");
        }
        if (!Files.isReadable(file)) {
            throw new ImageInputException(file, "image " + file + ": not readable");
        }
        Image image;
        try {
            image = ImageFactory.getInstance().fromFile(file);
        } catch (IOException | RuntimeException e) {
            throw new ImageInputException(file, "image " + file + ": cannot be decoded as a PNG or JPEG image ("
                    + (e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage()) + ")", e);
        }
        if (image == null || image.getWidth() <= 0 || image.getHeight() <= 0) {
            throw new ImageInputException(file, "image " + file + ": cannot be decoded as a PNG or JPEG image");
        }
        return image.toNDArray(manager, Image.Flag.COLOR);
    }

    /** Preprocesses one decoded RGB image [H, W, 3] into [3, H', W'] float32. */
    NDArray process(NDArray rgb, Path file) {
        NDArray x = rgb.toType(DataType.FLOAT32, false);
        if (pad) {
            x = padToSquare(x);
        }
        if (resize) {
            long h = x.getShape().get(0);
            long w = x.getShape().get(1);
            int th = height;
            int tw = width;
            if (shortestEdge > 0) {
                // Hugging Face's get_resize_output_image_size: the short side becomes shortest_edge
                if (h <= w) {
                    th = shortestEdge;
                    tw = (int) (shortestEdge * w / h);
                } else {
                    tw = shortestEdge;
                    th = (int) (shortestEdge * h / w);
                }
            }
            if (h != th || w != tw) {
                x = NDImageUtils.resize(x, tw, th, interpolation).round().clip(0, 255);
            }
        }
        if (centerCrop) {
            long h = x.getShape().get(0);
            long w = x.getShape().get(1);
            if (h < cropHeight || w < cropWidth) {
                throw new ImageInputException(file, "image " + file + ": " + w + "x" + h + " after resizing is smaller "
                        + "than crop_size " + cropWidth + "x" + cropHeight);
            }
            // Hugging Face's center_crop: top = (h - crop_h) // 2
            x = NDImageUtils.crop(x, (int) ((w - cropWidth) / 2), (int) ((h - cropHeight) / 2), cropWidth, cropHeight);
        }
        NDManager m = x.getManager();
        if (rescale) {
            x = x.mul(m.create((float) rescaleFactor));
        }
        if (normalize) {
            x = x.sub(m.create(mean)).div(m.create(std));
        }
        return x.transpose(2, 0, 1);
    }

    private NDArray padToSquare(NDArray x) {
        long h = x.getShape().get(0);
        long w = x.getShape().get(1);
        if (h == w) {
            return x;
        }
        long side = Math.max(h, w);
        NDManager m = x.getManager();
        float[] bg = new float[3];
        for (int c = 0; c < 3; c++) {
            bg[c] = (int) (mean[c] * 255);
        }
        NDArray canvas = m.create(bg).reshape(1, 1, 3).broadcast(new Shape(side, side, 3)).duplicate();
        long top = (side - h) / 2;
        long left = (side - w) / 2;
        canvas.set(new NDIndex("{}:{}, {}:{}, :", top, top + h, left, left + w), x);
        return canvas;
    }

    private static boolean bool(Map<String, Object> m, String key, boolean def, String where) {
        Object v = m.get(key);
        if (v == null) {
            return def;
        }
        if (!(v instanceof Boolean b)) {
            throw new IllegalArgumentException(where + ": " + key + " must be true or false (got " + v + ")");
        }
        return b;
    }

    private static int positive(Object v, String what) {
        if (!(v instanceof Number n) || n.doubleValue() <= 0 || n.doubleValue() != Math.rint(n.doubleValue())) {
            throw new IllegalArgumentException(what + " must be a positive integer (got " + v + ")");
        }
        return n.intValue();
    }

    private static float[] triple(Object v, String what) {
        List<Object> values = new ArrayList<>();
        if (v instanceof Number n) {
            values.add(n);
            values.add(n);
            values.add(n);
        } else if (v instanceof List<?> l) {
            values.addAll(l);
        }
        if (values.size() != 3) {
            throw new IllegalArgumentException(what + " must be a number or three numbers (got " + v + ")");
        }
        float[] out = new float[3];
        for (int i = 0; i < 3; i++) {
            if (!(values.get(i) instanceof Number n)) {
                throw new IllegalArgumentException(what + " must be a number or three numbers (got " + v + ")");
            }
            out[i] = n.floatValue();
        }
        return out;
    }
}
