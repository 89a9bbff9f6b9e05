package org.distillery.api.model;

import java.util.Map;

import ai.djl.ndarray.NDArray;

/**
 * A decoder-only language model with Hugging Face parameter names. Its parameters live in
 * the manager it was loaded or created with.
 */
public interface LanguageModel extends AutoCloseable {

    /** The model's configuration. */
    ModelConfig config();

    /** Trainable parameters by Hugging Face name, e.g. {@code model.layers.0.self_attn.q_proj.weight}. */
    Map<String, NDArray> parameters();

    /** Runs the model on {@code inputIds} [batch, seq] (int64). */
    ModelOutput forward(NDArray inputIds, ForwardOptions options);

    /** An empty KV cache for incremental decoding. */
    KvCache newCache();

    /**
     * An empty KV cache of {@code slots} independent rows for continuous batching.
     *
     * @throws UnsupportedOperationException if this model has none
     */
    default SlotKvCache newSlotCache(int slots) {
        throw new UnsupportedOperationException(getClass().getSimpleName() + " has no slot cache");
    }

    /** Frees the parameters. */
    @Override
    void close();
}
