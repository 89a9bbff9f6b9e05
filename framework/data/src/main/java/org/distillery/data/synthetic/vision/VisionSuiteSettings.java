package org.distillery.data.synthetic.vision;

import com.google.gson.JsonObject;

/**
 * What {@link VisionSuite} generates.
 *
 * @param seed the random seed of every scene, caption and question
 * @param imageSize the side of the square images in pixels (at least 24)
 * @param trainScenes scenes (images) of the training split
 * @param validationScenes scenes of the validation split
 * @param testScenes scenes of the test split
 * @param corpus text-only scene descriptions for language-model pre-training
 * @param noise per-pixel noise amplitude (0..255 scale) added to every image
 */
public record VisionSuiteSettings(long seed, int imageSize, int trainScenes, int validationScenes, int testScenes,
                                  int corpus, int noise) {

    /** The embedded default: 48-pixel images, 3000/150/250 scenes, 3000 corpus lines. */
    public static VisionSuiteSettings defaults() {
        return new VisionSuiteSettings(20261201L, 48, 3000, 150, 250, 3000, 0);
    }

    /** Checks the ranges, naming the setting. */
    public VisionSuiteSettings {
        if (imageSize < 24 || imageSize > 1024) {
            throw new IllegalArgumentException("image size must be within 24..1024 pixels, got " + imageSize);
        }
        if (trainScenes < 0 || validationScenes < 0 || testScenes < 0 || corpus < 0) {
            throw new IllegalArgumentException("scene and corpus counts must not be negative");
        }
        if (noise < 0 || noise > 64) {
            throw new IllegalArgumentException("noise must be within 0..64, got " + noise);
        }
    }

    /** A copy with another seed. */
    public VisionSuiteSettings withSeed(long s) {
        return new VisionSuiteSettings(s, imageSize, trainScenes, validationScenes, testScenes, corpus, noise);
    }

    /** A copy with other sizes. */
    public VisionSuiteSettings withSizes(int train, int validation, int test, int corpusLines) {
        return new VisionSuiteSettings(seed, imageSize, train, validation, test, corpusLines, noise);
    }

    /** A copy with another image size. */
    public VisionSuiteSettings withImageSize(int pixels) {
        return new VisionSuiteSettings(seed, pixels, trainScenes, validationScenes, testScenes, corpus, noise);
    }

    /** The settings as JSON (in {@code suite.json}). */
    public JsonObject toJson() {
        JsonObject o = new JsonObject();
        o.addProperty("seed", seed);
        o.addProperty("imageSize", imageSize);
        o.addProperty("trainScenes", trainScenes);
        o.addProperty("validationScenes", validationScenes);
        o.addProperty("testScenes", testScenes);
        o.addProperty("corpus", corpus);
        o.addProperty("noise", noise);
        return o;
    }
}
