package org.distillery.models.arch;

import java.util.Arrays;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.index.NDIndex;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.KvCache;
import org.distillery.api.model.SlotKvCache;

/**
 * The KV cache of continuous batching: {@link #slots()} rows, each holding one sequence, all of
 * them ending at the same buffer column, so a decoding step writes one column for every row at
 * once exactly as a plain cache does (per-row writes at different columns would cost a copy per
 * row and layer).
 *
 * <p>Layout. Row {@code s} holds its sequence in the buffer columns {@code [rowStart[s], end)},
 * where {@code end = start + length}; columns before {@code rowStart[s]} are masked for that row,
 * so they are "left padding" that the model's mask-derived position ids already handle. A free
 * row is masked entirely. {@code start} is the first column any occupied row uses: when the
 * longest-running row leaves, the columns before the next one's start are dropped from the view
 * without copying. When the buffer runs out of columns the view is moved to column 0 of a buffer
 * twice the size it needs (one copy per doubling of work, as the plain cache's growth). A row
 * longer than the view (a long prompt joining short ones) widens the view to the left, into free
 * columns when there are some, else through the same move.
 *
 * <p>Rows in use. A step computes only slots {@code [0, rows)}, where {@code rows} is one past the
 * highest occupied slot: the buffers are read and written through views of those rows (no copy),
 * and the mask holds exactly those rows (slots beyond are free, hence masked entirely). A server
 * that fills the lowest free slot first thus computes no more rows than it has sequences, apart
 * from holes left by rows that ended below others.
 *
 * <p>Numerics: a row attends to exactly its own positions, at its own position ids, so its logits
 * equal those of the sequence decoded alone up to float rounding (the masked columns add exact
 * zeros to the softmax, but the reductions run over more columns and the matmuls over more rows).
 */
public final class SlotKvCacheImpl extends KvCacheImpl implements SlotKvCache {

    private final int slots;
    private final boolean[] occupied;
    private final int[] rowStart;
    private long kvHeads = -1;
    private long headDim = -1;
    private DataType dtype;

    SlotKvCacheImpl(TransformerLM owner, NDManager manager, int layers, int slots) {
        super(owner, manager, layers);
        if (slots < 1) {
            throw new IllegalArgumentException("a slot cache needs at least one slot (got " + slots + ")");
        }
        this.slots = slots;
        this.occupied = new boolean[slots];
        this.rowStart = new int[slots];
        this.batch = 0;
    }

    @Override
    public int slots() {
        return slots;
    }

    @Override
    public int rowsInUse() {
        return (int) batch;
    }

    @Override
    public boolean occupied(int slot) {
        checkSlot(slot);
        return occupied[slot];
    }

    @Override
    public int length(int slot) {
        checkSlot(slot);
        return occupied[slot] ? start + length - rowStart[slot] : 0;
    }

    @Override
    int longestSequence() {
        int longest = 0;
        for (int s = 0; s < slots; s++) {
            longest = Math.max(longest, length(s));
        }
        return longest;
    }

    @Override
    public void insert(int slot, KvCache source, int row) {
        checkOpen();
        checkSlot(slot);
        if (!(source instanceof KvCacheImpl src) || source instanceof SlotKvCacheImpl || src.owner != owner) {
            throw new IllegalArgumentException("the source must be a plain KV cache of the same model");
        }
        if (src.isClosed() || src.length == 0) {
            throw new IllegalArgumentException("the source cache is " + (src.isClosed() ? "closed" : "empty"));
        }
        if (row < 0 || row >= src.batch) {
            throw new IllegalArgumentException("row " + row + " is outside the source's " + src.batch + " rows");
        }
        if (occupied[slot]) {
            throw new IllegalStateException("slot " + slot + " is occupied; evict it first");
        }
        int first = firstReal(src, row);
        int rowLength = src.length - first;
        long srcFrom = src.start + first;
        NDArray k0 = src.keys[0];
        kvHeads = k0.getShape().get(1);
        headDim = k0.getShape().get(3);
        dtype = k0.getDataType();
        trim();
        if (length == 0) {
            if (capacity() < rowLength + 1) {
                relayout(0, room(rowLength + 1));
            }
            start = 0;
            length = rowLength;
            batch = slot + 1;
            replaceMask(manager.zeros(new Shape(batch, rowLength), DataType.FLOAT32));
        } else {
            if (rowLength > length) {
                int wider = rowLength - length;
                if (start < wider) {
                    relayout(wider, Math.max(capacity(), room(rowLength + 1)));
                }
                start -= wider;
                length = rowLength;
                replaceMask(concatZeros(mask, wider, 1));
            }
            if (slot >= batch) {
                replaceMask(concatZeros(mask, slot + 1 - batch, 0));
                batch = slot + 1;
            }
        }
        int end = start + length;
        for (int l = 0; l < keys.length; l++) {
            copyRow(keys[l], src.keys[l], slot, row, srcFrom, end - rowLength, rowLength);
            copyRow(values[l], src.values[l], slot, row, srcFrom, end - rowLength, rowLength);
        }
        fill(new NDIndex("{}, :", slot), 0f);
        fill(new NDIndex("{}, {}:", slot, length - rowLength), 1f);
        rowStart[slot] = end - rowLength;
        occupied[slot] = true;
    }

    @Override
    public void evict(int slot) {
        checkSlot(slot);
        if (!occupied[slot]) {
            return;
        }
        occupied[slot] = false;
        fill(new NDIndex("{}, :", slot), 0f);
        int rows = 0;
        for (int s = 0; s < slots; s++) {
            if (occupied[s]) {
                rows = s + 1;
            }
        }
        if (rows < batch && rows > 0) {
            replaceMask(mask.get(new NDIndex("0:{}", rows)));
        }
        batch = rows;
        trim();
    }

    @Override
    void beforeForward(long b, long t) {
        checkOpen();
        trim();
        if (length == 0) {
            throw new IllegalStateException("the slot cache holds no sequence; insert one before decoding");
        }
        if (b != batch) {
            throw new IllegalArgumentException("a step of the slot cache feeds its " + batch + " rows in use (slots 0.."
                    + (batch - 1) + "), input has " + b);
        }
        if (start + length + t > capacity()) {
            relayout(0, Math.max(capacity(), room(length + t)));
        }
    }

    @Override
    NDArray rowsOf(NDArray buf) {
        return buf == null || batch == slots ? buf : buf.get(new NDIndex("0:{}", batch));
    }

    @Override
    NDArray newTokenMask(NDManager tmp, long b, long t) {
        float[] m = new float[(int) (b * t)];
        for (int s = 0; s < b; s++) {
            if (occupied[s]) {
                Arrays.fill(m, (int) (s * t), (int) ((s + 1) * t), 1f);
            }
        }
        return tmp.create(m, new Shape(b, t));
    }

    /** Columns to allocate for a view that needs {@code n}: twice that, so moves are amortised. */
    private long room(long n) {
        return Math.max(reserved, 2 * n);
    }

    /** Drops the leading columns no occupied row uses (a view, no copy); empties the view when every row is free. */
    private void trim() {
        int first = Integer.MAX_VALUE;
        for (int s = 0; s < slots; s++) {
            if (occupied[s]) {
                first = Math.min(first, rowStart[s]);
            }
        }
        if (first == Integer.MAX_VALUE) {
            start = 0;
            length = 0;
            replaceMask(null);
            return;
        }
        int drop = first - start;
        if (drop > 0) {
            replaceMask(mask.get(new NDIndex(":, {}:", drop)));
            start = first;
            length -= drop;
        }
    }

    /** Moves the view to begin at column {@code newStart} of fresh buffers of {@code capacity} columns. */
    private void relayout(int newStart, long capacity) {
        for (int l = 0; l < keys.length; l++) {
            keys[l] = moved(keys[l], newStart, capacity);
            values[l] = moved(values[l], newStart, capacity);
        }
        for (int s = 0; s < slots; s++) {
            if (occupied[s]) {
                rowStart[s] += newStart - start;
            }
        }
        start = newStart;
    }

    private NDArray moved(NDArray buf, int newStart, long capacity) {
        NDArray next = manager.zeros(new Shape(slots, kvHeads, capacity, headDim), dtype);
        NDScope.unregister(next);
        if (buf != null) {
            if (length > 0) {
                // the view would keep the old buffer's memory alive: closed with it
                try (NDArray view = buf.get(new NDIndex(":, :, {}:{}", start, start + length))) {
                    next.set(new NDIndex(":, :, {}:{}", newStart, newStart + length), view);
                }
            }
            buf.close();
        }
        return next;
    }

    private NDArray concatZeros(NDArray a, long n, int axis) {
        Shape s = a.getShape();
        NDArray zeros = manager.zeros(axis == 0 ? new Shape(n, s.get(1)) : new Shape(s.get(0), n), DataType.FLOAT32);
        NDArray joined = axis == 0 ? a.concat(zeros, 0) : zeros.concat(a, 1);
        zeros.close();
        return joined;
    }

    private static void copyRow(NDArray dst, NDArray src, int slot, int row, long srcFrom, int dstFrom, int n) {
        dst.set(new NDIndex("{}, :, {}:{}", slot, dstFrom, dstFrom + n),
                src.get(new NDIndex("{}, :, {}:{}", row, srcFrom, srcFrom + n)));
    }

    /** The source row's first real column: its mask must be zeros (left padding) then ones. */
    private static int firstReal(KvCacheImpl src, int row) {
        if (src.mask == null) {
            return 0;
        }
        float[] m = src.mask.get(row).toType(DataType.FLOAT32, false).toFloatArray();
        int first = 0;
        while (first < m.length && m[first] == 0f) {
            first++;
        }
        for (int c = first; c < m.length; c++) {
            if (m[c] != 1f) {
                throw new IllegalArgumentException("row " + row + " of the source cache is not left-padded (mask "
                        + m[c] + " at column " + c + " after its first real position)");
            }
        }
        if (first == m.length) {
            throw new IllegalArgumentException("row " + row + " of the source cache holds no position");
        }
        return first;
    }

    /**
     * Sets the mask's {@code index} to {@code value} through a scalar closed at once: DJL's
     * {@code set(NDIndex, Number)} leaves its scalar in the mask's manager, which lives as long as
     * the server, so every row that joined or left would leave one behind.
     */
    private void fill(NDIndex index, float value) {
        try (NDArray scalar = manager.create(value)) {
            mask.set(index, scalar);
        }
    }

    private void replaceMask(NDArray m) {
        if (m != null) {
            NDScope.unregister(m);
            m.attach(manager);
        }
        if (mask != null && mask != m) {
            mask.close();
        }
        mask = m;
    }

    private void checkSlot(int slot) {
        if (slot < 0 || slot >= slots) {
            throw new IllegalArgumentException("slot " + slot + " is outside 0.." + (slots - 1));
        }
    }

    private void checkOpen() {
        if (isClosed()) {
            throw new IllegalStateException("the slot cache is closed");
        }
    }
}
