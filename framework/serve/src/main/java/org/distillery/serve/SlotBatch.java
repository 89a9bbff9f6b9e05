package org.distillery.serve;

import java.util.Arrays;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.SlotKvCache;

/**
 * The running batch of continuous batching: a fixed number of slots over one
 * {@link SlotKvCache}. Rows {@link #admit join}: their prompts are prefilled together (one
 * left-padded forward on a plain cache), each picks its first token from the prefill, and those
 * that go on are copied into free slots. A {@link #step} feeds every occupied slot its last token
 * and picks its next one; a row that ends (stop id, stop string, budget, client gone) frees its
 * slot at once, for the next admission. Tokens are picked and reported by the
 * {@link BatchDecoder}'s per-row rules, so a row behaves as in the window scheduler. Only the
 * scheduler's thread calls it.
 */
final class SlotBatch implements AutoCloseable {

    private final BatchDecoder decoder;
    private final LanguageModel model;
    private final SlotKvCache cache;
    private final DecodeRow[] rows;
    private final long[] last;
    private final int[] produced;
    private int occupied;

    /**
     * @throws IllegalArgumentException if the model has no slot cache
     */
    SlotBatch(BatchDecoder decoder, int slots) {
        this.decoder = decoder;
        this.model = decoder.model();
        try {
            this.cache = model.newSlotCache(slots);
        } catch (UnsupportedOperationException e) {
            throw new IllegalArgumentException("scheduler continuous: " + e.getMessage() + "; use the window scheduler",
                    e);
        }
        this.rows = new DecodeRow[slots];
        this.last = new long[slots];
        this.produced = new int[slots];
    }

    /** Slots holding a row. */
    int occupied() {
        return occupied;
    }

    /** Slots free for {@link #admit}. */
    int free() {
        return rows.length - occupied;
    }

    /**
     * Prefills {@code joining} (at most {@link #free()} rows) and places every row that does not
     * end at its first token into a free slot. A row with no budget ends at once ({@code length}).
     */
    void admit(List<DecodeRow> joining, NDManager manager) {
        if (joining.size() > free()) {
            throw new IllegalArgumentException(joining.size() + " rows for " + free() + " free slots");
        }
        List<DecodeRow> live = joining.stream().filter(r -> {
            if (r.maxTokens() == 0) {
                r.sink().finish("length");
                return false;
            }
            return true;
        }).toList();
        if (live.isEmpty()) {
            return;
        }
        int n = live.size();
        int width = live.stream().mapToInt(r -> r.prompt().length).max().orElseThrow();
        long[] ids = new long[n * width];
        float[] mask = new float[n * width];
        for (int i = 0; i < n; i++) {
            int[] p = live.get(i).prompt();
            int off = i * width + width - p.length;
            Arrays.fill(ids, i * width, off, decoder.padId());
            for (int j = 0; j < p.length; j++) {
                ids[off + j] = p[j];
                mask[off + j] = 1f;
            }
        }
        int vocab = model.config().vocabSize();
        int settled = 0;
        try (KvCache prefill = model.newCache(); NDManager sm = manager.newSubManager()) {
            NDArray logits = model.forward(sm.create(ids, new Shape(n, width)), ForwardOptions.inference()
                    .withMask(sm.create(mask, new Shape(n, width))).withCache(prefill)).logits();
            float[] logProbs = lastLogProbs(logits);
            int slot = 0;
            for (; settled < n; settled++) {
                DecodeRow r = live.get(settled);
                int token = decoder.choose(r, logProbs, settled * vocab);
                if (decoder.report(r, token, logProbs, settled * vocab, 1)) {
                    continue;
                }
                while (rows[slot] != null) {
                    slot++;
                }
                cache.insert(slot, prefill, settled);
                rows[slot] = r;
                last[slot] = token;
                produced[slot] = 1;
                occupied++;
            }
        } catch (RuntimeException | Error e) {
            // rows already in a slot are the caller's to fail with the others; these never got one
            live.subList(settled, n).forEach(r -> r.sink().fail(e));
            throw e;
        }
    }

    /** One decoding step of every occupied slot (the slots in use: new rows take the lowest free ones). */
    void step(NDManager manager) {
        int inUse = cache.rowsInUse();
        long[] ids = new long[inUse];
        for (int s = 0; s < inUse; s++) {
            ids[s] = rows[s] == null ? decoder.padId() : last[s];
        }
        float[] logProbs;
        try (NDManager sm = manager.newSubManager()) {
            logProbs = lastLogProbs(model.forward(sm.create(ids, new Shape(inUse, 1)),
                    ForwardOptions.inference().withCache(cache)).logits());
        }
        decoder.stats().step(occupied);
        int vocab = model.config().vocabSize();
        for (int s = 0; s < inUse; s++) {
            DecodeRow r = rows[s];
            if (r == null) {
                continue;
            }
            int token = decoder.choose(r, logProbs, s * vocab);
            if (decoder.report(r, token, logProbs, s * vocab, ++produced[s])) {
                free(s);
            } else {
                last[s] = token;
            }
        }
    }

    /** Fails every row in a slot (a forward pass failed) and frees the slots. */
    void failAll(Throwable e) {
        for (int s = 0; s < rows.length; s++) {
            if (rows[s] != null) {
                rows[s].sink().fail(e);
                free(s);
            }
        }
    }

    private void free(int s) {
        rows[s] = null;
        occupied--;
        cache.evict(s);
    }

    private static float[] lastLogProbs(NDArray logits) {
        return logits.get(":, -1, :").toType(DataType.FLOAT32, false).logSoftmax(-1).toFloatArray();
    }

    @Override
    public void close() {
        cache.close();
    }
}
