package org.distillery.api.model;

import java.util.Map;
import java.util.Optional;

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

    /**
     * The output layer, when this model can run {@link ForwardOptions#withoutHead() without it} and
     * leave the logits to a loss that computes them chunk by chunk from {@link ModelOutput#finalHidden()};
     * empty for a model that cannot (then a trainer materialises the logits). Its arrays are the
     * model's parameters (the input embedding when tied), so gradients through it reach the model.
     */
    default Optional<OutputHead> outputHead() {
        return Optional.empty();
    }

    /**
     * How the model takes images, when it has a vision tower (LLaVA); empty for text-only models,
     * which reject {@link ForwardOptions#pixelValues()}.
     */
    default Optional<VisionInput> vision() {
        return Optional.empty();
    }

    /**
     * The input embeddings [batch, seq, hidden] of {@code ids} [batch, seq], looked up as
     * {@link #forward} does (recorded by a gradient collector), for callers that build their own
     * {@link ForwardOptions#inputEmbeddings()} (e.g. learned query vectors in front of the text).
     */
    default NDArray embedTokens(NDArray ids) {
        throw new UnsupportedOperationException(config().modelType() + " models do not expose their input embeddings");
    }

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
