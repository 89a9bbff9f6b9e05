package org.distillery.kit.rollout;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.data.TokenBatch;

/**
 * Rollouts as a training batch, laid out like every batch of the project
 * ({@link org.distillery.kit.data.Records#batch}): right-padded; position t holds token t and
 * predicts token t+1; the loss mask counts the response tokens. Each named value becomes an extra
 * of shape [batch, seq] aligned with the targets: position t holds the value of the token
 * {@code targets[t]}, 0 where it is not a response token. Per-row values go in extras of shape [batch].
 */
public final class RolloutBatches {

    private RolloutBatches() {
    }

    /**
     * The batch of {@code rollouts} with the per-token values {@code names} as extras.
     *
     * @param rollouts the rows
     * @param names the values to attach (each rollout must have them)
     * @param rowValues per-row extras of shape [batch], by name (each array one entry per rollout); may be empty
     * @param padId the padding id
     * @param manager where the arrays are created
     */
    public static TokenBatch assemble(List<Rollout> rollouts, List<String> names, Map<String, float[]> rowValues,
                                      int padId, NDManager manager) {
        int b = rollouts.size();
        int len = 1;
        for (Rollout r : rollouts) {
            len = Math.max(len, r.ids().length - 1);
        }
        long[] input = new long[b * len];
        long[] targets = new long[b * len];
        float[] attention = new float[b * len];
        float[] loss = new float[b * len];
        int[] prompts = new int[b];
        float[][] extras = new float[names.size()][b * len];
        Arrays.fill(input, padId);
        Arrays.fill(targets, padId);
        for (int i = 0; i < b; i++) {
            Rollout r = rollouts.get(i);
            int[] ids = r.ids();
            prompts[i] = r.promptLength();
            float[][] values = new float[names.size()][];
            for (int v = 0; v < names.size(); v++) {
                values[v] = r.value(names.get(v));
            }
            for (int t = 0; t < ids.length - 1; t++) {
                int k = i * len + t;
                input[k] = ids[t];
                targets[k] = ids[t + 1];
                attention[k] = 1;
                int j = t + 1 - r.promptLength();
                if (j < 0) {
                    continue;
                }
                loss[k] = 1;
                for (int v = 0; v < names.size(); v++) {
                    extras[v][k] = values[v][j];
                }
            }
        }
        Shape shape = new Shape(b, len);
        Map<String, NDArray> named = new LinkedHashMap<>();
        for (int v = 0; v < names.size(); v++) {
            named.put(names.get(v), manager.create(extras[v], shape));
        }
        for (Map.Entry<String, float[]> e : rowValues.entrySet()) {
            if (e.getValue().length != b) {
                throw new IllegalArgumentException("row value '" + e.getKey() + "' has " + e.getValue().length
                        + " entries for " + b + " rows");
            }
            named.put(e.getKey(), manager.create(e.getValue()));
        }
        return new TokenBatch(manager.create(input, shape), manager.create(attention, shape),
                manager.create(targets, shape), manager.create(loss, shape),
                manager.create(prompts).toType(DataType.INT32, false), named);
    }
}
