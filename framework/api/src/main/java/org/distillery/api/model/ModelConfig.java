package org.distillery.api.model;

import java.util.Map;

/**
 * The architecture-independent part of a Hugging Face {@code config.json}, plus the whole
 * parsed file for architecture-specific fields.
 *
 * @param modelType {@code model_type}, e.g. {@code gpt2}, {@code llama}, {@code mixtral}
 * @param vocabSize vocabulary size of the embedding and output head
 * @param hiddenSize width of the residual stream
 * @param numLayers number of decoder layers
 * @param numHeads attention heads
 * @param numKeyValueHeads key/value heads (grouped-query attention), equal to numHeads without GQA
 * @param intermediateSize width of the feed-forward layer (of one expert for MoE)
 * @param maxPositions maximum sequence length
 * @param raw every field of {@code config.json}, as parsed JSON values
 */
public record ModelConfig(String modelType, int vocabSize, int hiddenSize, int numLayers, int numHeads,
                          int numKeyValueHeads, int intermediateSize, int maxPositions, Map<String, Object> raw) {
}
