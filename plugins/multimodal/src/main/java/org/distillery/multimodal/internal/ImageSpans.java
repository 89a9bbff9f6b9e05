package org.distillery.multimodal.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;

/**
 * The image-token positions of a batch, read from its {@link TokenBatch#imageSpans()}: per row the
 * first image position and the number of image tokens (0 for a text-only row).
 *
 * @param starts first image position per row
 * @param counts image tokens per row
 * @param length the batch's sequence length
 */
record ImageSpans(int[] starts, int[] counts, int length) {

    /** The spans of {@code batch}; every row text-only when it has no images. */
    static ImageSpans of(TokenBatch batch) {
        int rows = (int) batch.inputIds().getShape().get(0);
        int length = (int) batch.inputIds().getShape().get(1);
        int[] starts = new int[rows];
        int[] counts = new int[rows];
        if (batch.hasImages()) {
            int[] s = batch.imageSpans().toType(ai.djl.ndarray.types.DataType.INT32, false).toIntArray();
            for (int i = 0; i < rows; i++) {
                starts[i] = s[2 * i];
                counts[i] = s[2 * i + 1];
            }
        }
        return new ImageSpans(starts, counts, length);
    }

    /** Image tokens in the batch. */
    long total() {
        long n = 0;
        for (int c : counts) {
            n += c;
        }
        return n;
    }

    /** Rows with an image. */
    int images() {
        int n = 0;
        for (int c : counts) {
            n += c > 0 ? 1 : 0;
        }
        return n;
    }

    /** [batch, seq] float32: 1 at every image-token position, 0 elsewhere. */
    NDArray mask(NDManager manager) {
        float[] m = new float[starts.length * length];
        for (int i = 0; i < starts.length; i++) {
            for (int t = 0; t < counts[i]; t++) {
                m[i * length + starts[i] + t] = 1f;
            }
        }
        return manager.create(m, new Shape(starts.length, length));
    }
}
