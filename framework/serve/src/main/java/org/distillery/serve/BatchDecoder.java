package org.distillery.serve;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;

/**
 * Decodes a left-padded batch with a KV cache, each row with its own temperature, top-p,
 * random generator, token budget and report of alternatives ("per-row masking": a finished row
 * is fed padding and ignored until the whole batch ends), and scores sequences. How one row
 * picks and reports its next token ({@link #choose}, {@link #report}) is shared with the
 * continuous batch ({@link SlotBatch}), so both schedulers treat a row alike. Each step's arrays
 * live in a sub-manager closed at the end of the step. Only the scheduler's thread calls it.
 */
final class BatchDecoder {

    private final LanguageModel model;
    private final Set<Integer> stopIds;
    private final long padId;
    private final ServerStats stats;

    BatchDecoder(LanguageModel model, Set<Integer> stopIds, long padId, ServerStats stats) {
        this.model = model;
        this.stopIds = Set.copyOf(stopIds);
        this.padId = padId;
        this.stats = stats;
    }

    LanguageModel model() {
        return model;
    }

    long padId() {
        return padId;
    }

    ServerStats stats() {
        return stats;
    }

    /** Decodes {@code rows} to the end, reporting every token and the end of every row to its sink. */
    void decode(List<DecodeRow> rows, NDManager manager) {
        int b = rows.size();
        int promptLen = 0;
        int steps = 0;
        for (DecodeRow r : rows) {
            promptLen = Math.max(promptLen, r.prompt().length);
            steps = Math.max(steps, r.maxTokens());
        }
        long[][] ids = new long[b][promptLen + steps];
        float[][] mask = new float[b][promptLen + steps];
        boolean[] done = new boolean[b];
        int[] produced = new int[b];
        for (int i = 0; i < b; i++) {
            int[] p = rows.get(i).prompt();
            int off = promptLen - p.length;
            Arrays.fill(ids[i], 0, off, padId);
            for (int j = 0; j < p.length; j++) {
                ids[i][off + j] = p[j];
                mask[i][off + j] = 1f;
            }
            if (rows.get(i).maxTokens() == 0) {
                done[i] = true;
                rows.get(i).sink().finish("length");
            }
        }
        int len = promptLen;
        int vocab = model.config().vocabSize();
        try (KvCache cache = model.newCache()) {
            for (int step = 0; step < steps && !allDone(done); step++) {
                float[] logProbs;
                try (NDManager sm = manager.newSubManager()) {
                    int from = step == 0 ? 0 : len - 1;
                    NDArray input = sm.create(slice(ids, from, len), new Shape(b, len - from));
                    NDArray m = sm.create(slice(mask, 0, len), new Shape(b, len));
                    NDArray logits = model.forward(input, ForwardOptions.inference().withMask(m).withCache(cache)).logits();
                    logProbs = logits.get(":, -1, :").toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
                }
                int active = 0;
                for (int i = 0; i < b; i++) {
                    long next = padId;
                    if (!done[i]) {
                        active++;
                        int token = choose(rows.get(i), logProbs, i * vocab);
                        done[i] = report(rows.get(i), token, logProbs, i * vocab, ++produced[i]);
                        next = token;
                    }
                    ids[i][len] = next;
                    mask[i][len] = 1f;
                }
                stats.step(active);
                len++;
            }
        }
        for (int i = 0; i < b; i++) {
            if (!done[i]) {
                rows.get(i).sink().finish("length");
            }
        }
    }

    /** The row's next token from its log-probabilities {@code logProbs[off, off + vocab)}: greedy or sampled. */
    int choose(DecodeRow row, float[] logProbs, int off) {
        int vocab = model.config().vocabSize();
        return row.temperature() == 0f ? argMax(logProbs, off, vocab)
                : sample(logProbs, off, vocab, row.temperature(), row.topP(), row.random());
    }

    /**
     * Hands the row's {@code produced}-th token to its sink (with the alternatives it asked for)
     * and ends the row when it must: an end-of-sequence id (unless it ignores them), a stop string
     * or a client gone (the sink says so), or its budget used up.
     *
     * @return whether the row ended (its sink heard {@code finish})
     */
    boolean report(DecodeRow row, int token, float[] logProbs, int off, int produced) {
        if (!row.ignoreEos() && stopIds.contains(token)) {
            row.sink().finish("stop");
            return true;
        }
        int k = row.topLogProbs();
        int[] top = k > 0 ? topK(logProbs, off, model.config().vocabSize(), k) : new int[0];
        float[] topLp = new float[top.length];
        for (int j = 0; j < top.length; j++) {
            topLp[j] = logProbs[off + top[j]];
        }
        if (!row.sink().token(token, logProbs[off + token], top, topLp)) {
            row.sink().finish("stop");
            return true;
        }
        if (produced >= row.maxTokens()) {
            row.sink().finish("length");
            return true;
        }
        return false;
    }

    /**
     * Scores whole sequences in one right-padded forward pass: every token's log-probability
     * and the top {@code k} at its position.
     */
    List<PromptScores> score(List<int[]> seqs, int k, NDManager manager) {
        int b = seqs.size();
        int len = 0;
        for (int[] s : seqs) {
            len = Math.max(len, s.length);
        }
        long[] ids = new long[b * len];
        float[] mask = new float[b * len];
        Arrays.fill(ids, padId);
        long[] next = new long[b * len];
        for (int i = 0; i < b; i++) {
            int[] s = seqs.get(i);
            for (int t = 0; t < s.length; t++) {
                ids[i * len + t] = s[t];
                mask[i * len + t] = 1f;
                next[i * len + t] = t + 1 < s.length ? s[t + 1] : 0;
            }
        }
        int kk = Math.max(1, Math.min(k, model.config().vocabSize()));
        float[] target;
        float[] topValues;
        long[] topIndices;
        try (NDManager sm = manager.newSubManager()) {
            NDArray logits = model.forward(sm.create(ids, new Shape(b, len)),
                    ForwardOptions.inference().withMask(sm.create(mask, new Shape(b, len)))).logits();
            NDArray lp = logits.toType(DataType.FLOAT32, false).logSoftmax(-1);
            target = lp.gather(sm.create(next, new Shape(b, len, 1)), -1).toFloatArray();
            NDList top = lp.topK(kk, -1, true, true);
            topValues = top.get(0).toType(DataType.FLOAT32, false).toFloatArray();
            topIndices = top.get(1).toType(DataType.INT64, false).toLongArray();
        }
        List<PromptScores> out = new ArrayList<>(b);
        for (int i = 0; i < b; i++) {
            int n = seqs.get(i).length;
            float[] lps = new float[Math.max(0, n - 1)];
            int[][] tIds = new int[lps.length][];
            float[][] tLps = new float[lps.length][];
            for (int t = 0; t + 1 < n; t++) {
                int pos = i * len + t;
                lps[t] = target[pos];
                tIds[t] = new int[k];
                tLps[t] = new float[k];
                for (int j = 0; j < Math.min(k, kk); j++) {
                    tIds[t][j] = (int) topIndices[pos * kk + j];
                    tLps[t][j] = topValues[pos * kk + j];
                }
            }
            out.add(new PromptScores(lps, tIds, tLps));
        }
        return out;
    }

    private static boolean allDone(boolean[] done) {
        for (boolean d : done) {
            if (!d) {
                return false;
            }
        }
        return true;
    }

    static int argMax(float[] x, int off, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) {
            if (x[off + j] > x[off + best]) {
                best = j;
            }
        }
        return best;
    }

    /** The {@code k} largest entries of {@code x[off, off + n)}, largest first, ties by lower id. */
    static int[] topK(float[] x, int off, int n, int k) {
        int kk = Math.min(k, n);
        int[] best = new int[kk];
        int size = 0;
        for (int j = 0; j < n; j++) {
            float v = x[off + j];
            if (size == kk && !(v > x[off + best[kk - 1]])) {
                continue;
            }
            int pos = size < kk ? size++ : kk - 1;
            while (pos > 0 && v > x[off + best[pos - 1]]) {
                best[pos] = best[pos - 1];
                pos--;
            }
            best[pos] = j;
        }
        return best;
    }

    /** Draws from softmax(logProbs / temperature) restricted to the top-p nucleus. */
    static int sample(float[] logProbs, int off, int n, float temperature, float topP,
                      java.util.SplittableRandom random) {
        double max = Double.NEGATIVE_INFINITY;
        for (int j = 0; j < n; j++) {
            max = Math.max(max, logProbs[off + j]);
        }
        double[] w = new double[n];
        double sum = 0;
        for (int j = 0; j < n; j++) {
            w[j] = Math.exp((logProbs[off + j] - max) / temperature);
            sum += w[j];
        }
        if (topP < 1f) {
            Integer[] order = new Integer[n];
            for (int j = 0; j < n; j++) {
                order[j] = j;
            }
            Arrays.sort(order, (a, c) -> Double.compare(w[c], w[a]));
            double kept = 0;
            int cut = n;
            for (int r = 0; r < n; r++) {
                kept += w[order[r]];
                if (kept >= topP * sum) {
                    cut = r + 1;
                    break;
                }
            }
            for (int r = cut; r < n; r++) {
                w[order[r]] = 0;
            }
            sum = kept;
        }
        double u = random.nextDouble() * sum;
        double c = 0;
        int last = 0;
        for (int j = 0; j < n; j++) {
            if (w[j] > 0) {
                c += w[j];
                last = j;
                if (u < c) {
                    return j;
                }
            }
        }
        return last;
    }

    private static long[] slice(long[][] a, int from, int to) {
        long[] r = new long[a.length * (to - from)];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], from, r, i * (to - from), to - from);
        }
        return r;
    }

    private static float[] slice(float[][] a, int from, int to) {
        float[] r = new float[a.length * (to - from)];
        for (int i = 0; i < a.length; i++) {
            System.arraycopy(a[i], from, r, i * (to - from), to - from);
        }
        return r;
    }
}
