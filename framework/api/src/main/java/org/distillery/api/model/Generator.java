package org.distillery.api.model;

import java.util.List;

import ai.djl.ndarray.NDManager;

/** Batched, seeded decoding with left padding. */
public interface Generator {

    /** Generates from {@code model} alone. */
    GenerationResult generate(LanguageModel model, List<int[]> prompts, GenerationOptions options, NDManager manager);

    /**
     * Generates with a student and a teacher stepping together (both with KV caches), drawing
     * each token from the distribution {@code hook} builds from their logits.
     */
    GenerationResult generateMixed(LanguageModel student, LanguageModel teacher, NextTokenHook hook,
                                   List<int[]> prompts, GenerationOptions options, NDManager manager);
}
