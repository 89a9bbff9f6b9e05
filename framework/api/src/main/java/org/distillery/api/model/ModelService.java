package org.distillery.api.model;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

/** Loads, creates and saves Hugging Face model folders; the kernel registers one. */
public interface ModelService {

    /** Reads {@code config.json} of a model folder. */
    ModelConfig readConfig(Path dir) throws IOException;

    /**
     * The floating-point type a model folder's weights are stored in ({@code FLOAT32}, {@code FLOAT16},
     * {@code BFLOAT16}); {@code FLOAT32} when they mix types.
     */
    DataType weightsType(Path dir) throws IOException;

    /** Loads a model folder's weights into {@code manager}, computing in {@code dtype}. */
    LanguageModel load(Path dir, DataType dtype, NDManager manager) throws IOException;

    /**
     * Loads a model folder's weights into {@code manager} held in {@code weights} (converted tensor by
     * tensor while loading), computing in {@code compute}: each weight is converted for one operation
     * at a time inside the forward pass when the two differ.
     */
    LanguageModel load(Path dir, DataType weights, DataType compute, NDManager manager) throws IOException;

    /** Creates a randomly initialised model of {@code config}. */
    LanguageModel create(ModelConfig config, long seed, NDManager manager);

    /** Writes {@code config.json} and {@code model.safetensors} atomically into {@code dir}. */
    void save(LanguageModel model, Path dir, DataType dtype) throws IOException;

    /** Loads the tokenizer of a model folder. */
    Tokenizer tokenizer(Path dir) throws IOException;

    /** The decoding service. */
    Generator generator();

    /** Opens the weights of a model folder for reading tensor by tensor, without loading the model. */
    WeightReader openWeights(Path dir) throws IOException;

    /**
     * Starts writing a {@code safetensors} file of {@code tensors} (in this order, with these names,
     * types and shapes); see {@link WeightWriter}.
     */
    WeightWriter writeWeights(Path file, List<TensorInfo> tensors) throws IOException;

    /**
     * The configuration of a model made of the decoder layers {@code layers} of {@code config} (indices
     * in increasing order, each kept layer renumbered by its position): the layer count and every
     * per-layer setting (which layers use a sliding window, which are sparse MoE layers) follow the
     * kept layers, so the smaller model computes each kept layer exactly as the original did.
     *
     * @throws IllegalArgumentException naming the setting that cannot be carried over
     */
    ModelConfig withLayers(ModelConfig config, List<Integer> layers);
}
