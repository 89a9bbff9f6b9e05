package org.distillery.models.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.KvCache;

/**
 * Per-layer keys and values [batch, kvHeads, capacity, headDim] plus the attention mask so far.
 *
 * <p>The first {@link #length()} positions of each buffer are the cache; the rest is room to
 * write the next tokens into, so a decoding step copies only its own keys and values instead of
 * the whole cache (growing by concatenation copies O(n²) over n steps). A buffer that is too
 * small is replaced by one of {@code max(needed, reserved, 2 × capacity)} positions, so
 * growth is geometric; a caller that knows the final length (the generator: prompt plus new
 * tokens) {@link #reserve reserves} it and never regrows.
 *
 * <p>The cached positions are the buffer columns {@code [start, start + length)}; a plain cache
 * keeps {@code start} at 0, the slot cache of continuous batching ({@link SlotKvCacheImpl}) moves
 * it as old columns stop being used by any of its rows.
 */
public sealed class KvCacheImpl implements KvCache permits SlotKvCacheImpl {

    final TransformerLM owner;
    final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;
    NDArray mask;
    int length;
    int start;
    long batch = -1;
    long reserved;
    private boolean closed;

    KvCacheImpl(TransformerLM owner, NDManager manager, int layers) {
        this.owner = owner;
        this.manager = manager;
        this.keys = new NDArray[layers];
        this.values = new NDArray[layers];
    }

    @Override
    public int length() {
        return length;
    }

    /** Batch size of the cached sequences, or -1 while empty. */
    public long batch() {
        return batch;
    }

    /**
     * Sizes buffers allocated from now on for at least {@code positions} positions (cached plus
     * new), so a caller that knows the final length allocates once.
     */
    public void reserve(int positions) {
        reserved = Math.max(reserved, positions);
    }

    /** Positions the first layer's key buffer holds room for (0 while empty). */
    public long capacity() {
        return keys.length == 0 || keys[0] == null ? 0 : keys[0].getShape().get(2);
    }

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Writes {@code fresh} [b, kvHeads, t, d] after the {@code past} cached positions of the
     * layer's buffer in {@code slots} (growing it first when it is too small) and returns a view of
     * the cached positions and the new ones. Nothing here is recorded by autograd: callers use it
     * only for arrays that do not require a gradient. {@link #length} is left to the caller, who
     * commits it once every layer is written, so a forward that fails midway leaves the cache as
     * it was (columns past the cached ones are free space).
     */
    NDArray append(NDArray[] slots, int layer, NDArray fresh, int past) {
        Shape s = fresh.getShape();
        long from = start + past;
        long need = from + s.get(2);
        NDArray buf = rowsOf(slots[layer]);
        if (buf == null || buf.getShape().get(2) < need) {
            long grown = Math.max(need, Math.max(reserved, buf == null ? 0 : 2 * buf.getShape().get(2)));
            NDArray next = manager.zeros(new Shape(s.get(0), s.get(1), grown, s.get(3)), fresh.getDataType());
            NDScope.unregister(next);
            if (buf != null && from > 0) {
                // the view would keep the old buffer's memory alive: closed with it
                try (NDArray view = buf.get(new NDIndex(":, :, :{}", from))) {
                    next.set(new NDIndex(":, :, :{}", from), view);
                }
            }
            if (buf != null) {
                buf.close();
            }
            slots[layer] = next;
            buf = next;
        }
        buf.set(new NDIndex(":, :, {}:{}", from, need), fresh);
        return buf.get(new NDIndex(":, :, {}:{}", start, need));
    }

    /** The layer's cached positions (a view; the buffer may hold more). */
    NDArray cached(NDArray[] slots, int layer, int past) {
        NDArray buf = rowsOf(slots[layer]);
        if (start == 0 && buf.getShape().get(2) == past) {
            return buf;
        }
        return buf.get(new NDIndex(":, :, {}:{}", start, start + past));
    }

    /** The rows of a buffer a pass works on: all of them for a plain cache. */
    NDArray rowsOf(NDArray buf) {
        return buf;
    }

    /** Called by the model before a pass that feeds {@code t} new positions of {@code b} rows; a plain cache needs nothing. */
    void beforeForward(long b, long t) {
    }

    /** The mask [b, t] of the positions a pass feeds: all real for a plain cache. */
    NDArray newTokenMask(NDManager tmp, long b, long t) {
        return tmp.ones(new Shape(b, t), DataType.FLOAT32);
    }

    /** The longest sequence's positions so far (the model checks its position limit with it). */
    int longestSequence() {
        return length;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            manager.close();
        }
    }
}
