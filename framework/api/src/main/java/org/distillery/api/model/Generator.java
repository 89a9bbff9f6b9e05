package org.distillery.api.model;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Batched, seeded decoding with left padding. */
public interface Generator {

    /** Generates from {@code model} alone. */
    GenerationResult generate(LanguageModel model, List<int[]> prompts, GenerationOptions options, NDManager manager);

    /**
     * Generates from {@code model} alone with images: {@code pixelValues} [images, channels, height,
     * width] for the image tokens the prompts hold, in row-major order ({@code null}: no images).
     * With a KV cache the images are encoded once, with the prompts.
     */
    default GenerationResult generate(LanguageModel model, List<int[]> prompts, NDArray pixelValues,
                                      GenerationOptions options, NDManager manager) {
        if (pixelValues == null) {
            return generate(model, prompts, options, manager);
        }
        throw new UnsupportedOperationException(getClass().getName() + " does not generate from images");
    }

    /**
     * Generates with a student and a teacher stepping together (both with KV caches), drawing
     * each token from the distribution {@code hook} builds from their logits.
     */
    GenerationResult generateMixed(LanguageModel student, LanguageModel teacher, NextTokenHook hook,
                                   List<int[]> prompts, GenerationOptions options, NDManager manager);
}
