package org.distillery.models.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
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
 */
public final class KvCacheImpl implements KvCache {

    final TransformerLM owner;
    final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;
    NDArray mask;
    int length;
    long batch = -1;
    private long reserved;
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
     * Writes {@code fresh} [b, kvHeads, t, d] at positions {@code [past, past + t)} of the layer's
     * buffer in {@code slots} (growing it first when it is too small) and returns a view of
     * positions {@code [0, past + t)}. Nothing here is recorded by autograd: callers use it only
     * for arrays that do not require a gradient. {@link #length} is left to the caller, who
     * commits it once every layer is written, so a forward that fails midway leaves the cache as
     * it was (positions past {@code length} are free space).
     */
    NDArray append(NDArray[] slots, int layer, NDArray fresh, int past) {
        Shape s = fresh.getShape();
        long need = past + s.get(2);
        NDArray buf = slots[layer];
        if (buf == null || buf.getShape().get(2) < need) {
            long grown = Math.max(need, Math.max(reserved, buf == null ? 0 : 2 * buf.getShape().get(2)));
            NDArray next = manager.zeros(new Shape(s.get(0), s.get(1), grown, s.get(3)), fresh.getDataType());
            NDScope.unregister(next);
            if (buf != null && past > 0) {
                next.set(new NDIndex(":, :, :{}", past), buf.get(new NDIndex(":, :, :{}", past)));
            }
            if (buf != null) {
                buf.close();
            }
            slots[layer] = next;
            buf = next;
        }
        buf.set(new NDIndex(":, :, {}:{}", past, need), fresh);
        return buf.get(new NDIndex(":, :, :{}", need));
    }

    /** The layer's first {@code past} cached positions (a view; the buffer may hold more). */
    NDArray cached(NDArray[] slots, int layer, int past) {
        NDArray buf = slots[layer];
        return buf.getShape().get(2) == past ? buf : buf.get(new NDIndex(":, :, :{}", past));
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            manager.close();
        }
    }
}
