package org.distillery.models.arch;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.KvCache;

/** Per-layer keys and values [batch, kvHeads, positions, headDim] plus the attention mask so far. */
public final class KvCacheImpl implements KvCache {

    final TransformerLM owner;
    final NDManager manager;
    final NDArray[] keys;
    final NDArray[] values;
    NDArray mask;
    int length;
    long batch = -1;
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

    /** Whether {@link #close()} was called. */
    public boolean isClosed() {
        return closed;
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            manager.close();
        }
    }
}
