package org.distillery.moe.internal;

import java.util.ArrayList;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;

/**
 * Expert usage: how often each expert is among a token's top-k under the model's own routing,
 * counted per sparse layer over real (unpadded) tokens. Used for frequency-weighted gathering
 * and for the router-usage histograms of Student-Aware Routing.
 */
final class RouterStats {

    private RouterStats() {
    }

    /**
     * Adds the top-k decisions of one forward pass to {@code counts}.
     *
     * @param routerLogits each sparse layer's [tokens, experts] router logits
     * @param tokenMask [tokens] 1 for real tokens, or {@code null} if all count
     * @param topK experts per token
     * @param counts [layers][experts], updated in place
     */
    static void addTopK(List<NDArray> routerLogits, float[] tokenMask, int topK, long[][] counts) {
        for (int l = 0; l < routerLogits.size(); l++) {
            NDArray logits = routerLogits.get(l);
            NDList top = logits.softmax(-1).topK(topK, -1, true, true);
            long[] idx = top.get(1).toType(DataType.INT64, false).toLongArray();
            int k = (int) top.get(1).getShape().get(1);
            for (int a = 0; a < idx.length; a++) {
                if (tokenMask == null || tokenMask[a / k] > 0) {
                    counts[l][(int) idx[a]]++;
                }
            }
        }
    }

    /** Top-k counts of {@code model} over a batch of ids [b, s] with its attention mask. */
    static long[][] count(LanguageModel model, MoeLayout layout, NDArray ids, NDArray mask) {
        long[][] counts = new long[layout.sparseLayers().size()][layout.numExperts()];
        ModelOutput out = model.forward(ids, ForwardOptions.inference().withMask(mask).withRouterLogits());
        addTopK(out.routerLogits(), mask.toType(DataType.FLOAT32, false).toFloatArray(), layout.topK(), counts);
        return counts;
    }

    /** Top-k counts of {@code model} over token sequences, {@code batchSize} at a time, right padded. */
    static long[][] count(LanguageModel model, MoeLayout layout, List<int[]> sequences, int batchSize, int padId,
                          NDManager manager) {
        long[][] counts = new long[layout.sparseLayers().size()][layout.numExperts()];
        for (int i = 0; i < sequences.size(); i += batchSize) {
            List<int[]> part = sequences.subList(i, Math.min(sequences.size(), i + batchSize));
            try (NDManager scratch = manager.newSubManager()) {
                NDArray[] batch = pad(part, padId, scratch);
                long[][] c = count(model, layout, batch[0], batch[1]);
                for (int l = 0; l < counts.length; l++) {
                    for (int e = 0; e < counts[l].length; e++) {
                        counts[l][e] += c[l][e];
                    }
                }
            }
        }
        return counts;
    }

    /** Right-padded ids [b, len] (int64) and attention mask [b, len] (float32). */
    static NDArray[] pad(List<int[]> sequences, int padId, NDManager manager) {
        int len = 1;
        for (int[] s : sequences) {
            len = Math.max(len, s.length);
        }
        long[] ids = new long[sequences.size() * len];
        float[] mask = new float[ids.length];
        for (int r = 0; r < sequences.size(); r++) {
            int[] s = sequences.get(r);
            for (int t = 0; t < len; t++) {
                ids[r * len + t] = t < s.length ? s[t] : padId;
                mask[r * len + t] = t < s.length ? 1 : 0;
            }
        }
        Shape shape = new Shape(sequences.size(), len);
        return new NDArray[] {manager.create(ids, shape), manager.create(mask, shape)};
    }

    /** Counts as JSON-friendly nested lists. */
    static List<List<Long>> asLists(long[][] counts) {
        List<List<Long>> out = new ArrayList<>();
        for (long[] row : counts) {
            List<Long> r = new ArrayList<>();
            for (long c : row) {
                r.add(c);
            }
            out.add(r);
        }
        return out;
    }
}
