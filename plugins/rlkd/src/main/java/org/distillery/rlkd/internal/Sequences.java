package org.distillery.rlkd.internal;

import java.util.Arrays;
import java.util.List;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;

/** Batches of whole token sequences for scoring passes. */
final class Sequences {

    private Sequences() {
    }

    /**
     * A right-padded batch whose inputs are the whole sequences (so the logits after the last token
     * exist too), attention 1 on tokens; targets are the next tokens (padding after the last), the
     * loss mask is 0 everywhere: for models that score, not for training.
     */
    static TokenBatch fullBatch(List<int[]> sequences, int padId, NDManager manager) {
        int b = sequences.size();
        int len = 1;
        for (int[] s : sequences) {
            len = Math.max(len, s.length);
        }
        long[] input = new long[b * len];
        long[] targets = new long[b * len];
        float[] attention = new float[b * len];
        Arrays.fill(input, padId);
        Arrays.fill(targets, padId);
        for (int i = 0; i < b; i++) {
            int[] s = sequences.get(i);
            for (int t = 0; t < s.length; t++) {
                input[i * len + t] = s[t];
                attention[i * len + t] = 1;
                if (t + 1 < s.length) {
                    targets[i * len + t] = s[t + 1];
                }
            }
        }
        Shape shape = new Shape(b, len);
        return new TokenBatch(manager.create(input, shape), manager.create(attention, shape),
                manager.create(targets, shape), manager.zeros(shape, DataType.FLOAT32),
                manager.zeros(new Shape(b), DataType.INT32));
    }
}
