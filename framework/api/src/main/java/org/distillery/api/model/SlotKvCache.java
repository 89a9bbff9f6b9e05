package org.distillery.api.model;

/**
 * A KV cache with a fixed number of rows ("slots") for continuous batching: each slot holds one
 * sequence of its own length, a finished sequence is {@link #evict evicted}, and a new one,
 * prefilled on a plain cache of the same model, is {@link #insert inserted} into the free slot
 * while the other slots go on decoding.
 *
 * <p>A decoding step runs {@link LanguageModel#forward} on ids {@code [rowsInUse(), t]} with this
 * cache and no attention mask: the cache keeps its own mask (each slot sees its own positions
 * only) and each slot's position ids follow from it, so a sequence decoded here attends to what it
 * would attend to alone. Ids fed to free slots are ignored and their logits are meaningless; a
 * caller that fills the lowest free slot first keeps the rows a step computes few.
 * Slot caches are meant for inference (serving); nothing in them is built for backpropagation.
 *
 * <p>{@link #length()} is the number of cache columns all slots share, i.e. the longest sequence;
 * {@link #length(int)} is one slot's own.
 */
public interface SlotKvCache extends KvCache {

    /** Number of slots. */
    int slots();

    /**
     * The rows a decoding step feeds, slots {@code 0 .. rowsInUse() - 1}: one past the highest
     * occupied slot (0 when all are free).
     */
    int rowsInUse();

    /** Whether {@code slot} holds a sequence. */
    boolean occupied(int slot);

    /** Positions cached for {@code slot}'s sequence (0 when free). */
    int length(int slot);

    /**
     * Copies row {@code row} of {@code source} (a plain cache of the same model after a prefill,
     * left-padded when it holds several rows) into the free slot {@code slot}.
     *
     * @throws IllegalArgumentException if the source is not such a cache or the indices are out of range
     * @throws IllegalStateException if the slot is occupied
     */
    void insert(int slot, KvCache source, int row);

    /** Frees {@code slot}; its columns are masked from now on. Freeing a free slot does nothing. */
    void evict(int slot);
}
