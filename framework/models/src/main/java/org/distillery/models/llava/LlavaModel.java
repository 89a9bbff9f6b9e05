package org.distillery.models.llava;

import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.NDScope;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;
import ai.djl.ndarray.types.SparseFormat;
import ai.djl.nn.core.Embedding;
import ai.djl.nn.core.Linear;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.ImageInputException;
import org.distillery.api.model.KvCache;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.model.OutputHead;
import org.distillery.api.model.VisionInput;
import org.distillery.kit.loss.EngineArrays;
import org.distillery.models.arch.Activations;
import org.distillery.models.arch.TransformerLM;
import org.distillery.models.vision.ImageProcessor;
import org.distillery.models.vision.VisionTower;

/**
 * {@code LlavaForConditionalGeneration}: a SigLIP or CLIP {@link VisionTower}, a two-layer
 * projector ({@code linear_1}, activation, {@code linear_2}) and any supported text model, over
 * named Hugging Face parameters ({@link LlavaLayout}).
 *
 * <p>Forward, as Hugging Face computes it: the tower runs on the pixel values; the hidden state(s)
 * {@code vision_feature_layer} are taken (no post-layernorm), position 0 dropped under the
 * {@code default} strategy, and projected to the text width; these features replace the
 * embeddings of the image tokens (the image token repeated once per feature, images in row-major
 * order of their tokens), and the text model runs on the result. An input whose image tokens do
 * not match the images' features fails, naming both counts. Decoding steps after the prompt
 * carry no image tokens and no pixel values: the images live in the KV cache.
 */
public final class LlavaModel implements LanguageModel {

    private final ModelConfig config;
    private final LlavaConfig llava;
    private final DataType dtype;
    private final NDManager manager;
    private final Map<String, NDArray> params;
    private final TransformerLM text;
    private final VisionTower tower;
    private final ImageProcessor processor;
    private final VisionInput vision;
    private volatile boolean closed;

    /**
     * Wraps loaded or initialised parameters; the model takes ownership of {@code manager}.
     *
     * @param params canonical name to array, exactly {@link LlavaLayout#shapes} of the config
     * @param generationConfig fields of {@code generation_config.json}, may be empty
     * @param processor the image preprocessing ({@code preprocessor_config.json})
     */
    public LlavaModel(ModelConfig config, DataType dtype, NDManager manager, Map<String, NDArray> params,
                      Map<String, Object> generationConfig, ImageProcessor processor) {
        this.config = config;
        this.llava = LlavaConfig.parse(LlavaConfig.mergeRecord(config));
        this.dtype = dtype;
        this.manager = manager;
        Map<String, Shape> shapes = LlavaLayout.shapes(llava);
        if (!shapes.keySet().equals(params.keySet())) {
            throw new IllegalArgumentException("parameters do not match the llava layout");
        }
        Map<String, NDArray> ordered = new LinkedHashMap<>();
        Map<String, NDArray> textParams = new LinkedHashMap<>();
        Map<String, NDArray> towerParams = new LinkedHashMap<>();
        for (String n : shapes.keySet()) {
            NDArray p = params.get(n);
            ordered.put(n, p);
            String t = LlavaLayout.toText(llava, n);
            if (t != null) {
                textParams.put(t, p);
            } else if (n.startsWith(LlavaLayout.VISION)) {
                towerParams.put(n.substring(LlavaLayout.VISION.length()), p);
            }
        }
        this.params = Collections.unmodifiableMap(ordered);
        this.text = new TransformerLM(llava.textConfig, dtype, manager, textParams, generationConfig);
        for (String n : shapes.keySet()) {
            params.get(n).setName(n);
        }
        this.tower = new VisionTower(llava.vision, towerParams);
        this.processor = processor;
        this.vision = new Input();
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    /** The parsed LLaVA configuration. */
    public LlavaConfig llava() {
        return llava;
    }

    /** The language model (owned by this model: never close it separately). */
    public TransformerLM textModel() {
        return text;
    }

    /** The image preprocessing. */
    public ImageProcessor processor() {
        return processor;
    }

    /** The compute data type. */
    public DataType dtype() {
        return dtype;
    }

    /** Fields of {@code generation_config.json}, empty if none. */
    public Map<String, Object> generationConfig() {
        return text.generationConfig();
    }

    /** Parameters of the tower, the projector and the language model, in that order. */
    public long[] parameterCounts() {
        long[] c = new long[3];
        for (Map.Entry<String, NDArray> e : params.entrySet()) {
            int i = e.getKey().startsWith(LlavaLayout.VISION) ? 0 : e.getKey().startsWith(LlavaLayout.PROJECTOR) ? 1 : 2;
            c[i] += e.getValue().size();
        }
        return c;
    }

    @Override
    public Map<String, NDArray> parameters() {
        return params;
    }

    @Override
    public Optional<VisionInput> vision() {
        return Optional.of(vision);
    }

    /** The language model's head: the fused output layer trains a LLaVA model as it trains its language model. */
    @Override
    public Optional<OutputHead> outputHead() {
        checkOpen();
        return text.outputHead();
    }

    @Override
    public NDArray embedTokens(NDArray ids) {
        checkOpen();
        return text.embedTokens(ids);
    }

    @Override
    public KvCache newCache() {
        checkOpen();
        return text.newCache();
    }

    @Override
    public void close() {
        if (!closed) {
            closed = true;
            text.close();
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("llava model is closed");
        }
    }

    @Override
    public ModelOutput forward(NDArray inputIds, ForwardOptions options) {
        checkOpen();
        ForwardOptions o = options == null ? ForwardOptions.inference() : options;
        Shape s = inputIds.getShape();
        if (s.dimension() != 2 || s.get(0) == 0 || s.get(1) == 0) {
            throw new IllegalArgumentException("input ids must be [batch, seq] and not empty, got " + s);
        }
        NDArray pixels = o.pixelValues();
        NDManager out = inputIds.getManager();
        try (NDScope scope = new NDScope()) {
            scope.suppressNotUsedWarning();
            NDArray ids = inputIds.getDataType() == DataType.INT64 ? inputIds : inputIds.toType(DataType.INT64, false);
            long[] flat = ids.toLongArray();
            long imageTokens = 0;
            for (long id : flat) {
                imageTokens += id == llava.imageTokenId ? 1 : 0;
            }
            if (pixels == null) {
                if (imageTokens > 0 && o.inputEmbeddings() == null) {
                    throw new ImageInputException(null, "the input holds " + imageTokens + " image tokens (id "
                            + llava.imageTokenId + ") but no images were given");
                }
                return text.forward(ids, o);
            }
            long images = pixels.getShape().get(0);
            long per = llava.tokensPerImage();
            if (imageTokens != images * per) {
                throw new ImageInputException(null, "the input holds " + imageTokens + " image tokens (id "
                        + llava.imageTokenId + ") but " + images + " image(s) give " + images * per + " features ("
                        + per + " per image of this " + llava.vision.modelType + " tower)");
            }
            NDArray features = imageFeatures(pixels, o.training());
            NDArray base = o.inputEmbeddings() != null ? o.inputEmbeddings() : text.embedTokens(ids);
            long b = s.get(0);
            long t = s.get(1);
            long h = llava.text.hiddenSize;
            long[] index = new long[flat.length];
            long next = flat.length;
            for (int i = 0; i < flat.length; i++) {
                index[i] = flat[i] == llava.imageTokenId ? next++ : i;
            }
            // one lookup into [text embeddings; image features] keeps both differentiable; the index is
            // engine-owned because the lookup's backward reads it after this scope has closed it
            NDArray table = base.reshape(b * t, h).concat(features.reshape(images * per, h), 0);
            NDArray embeds = Embedding.embedding(EngineArrays.longs(out, index), table, SparseFormat.DENSE)
                    .singletonOrThrow().reshape(b, t, h);
            ModelOutput res = text.forward(ids, o.withPixelValues(null).withInputEmbeddings(embeds));
            NDScope.unregister(features);
            features.attach(out);
            return new ModelOutput(res.logits(), res.hiddenStates(), res.attentions(), res.routerLogits(),
                    res.expertCounts(), res.cache(), res.finalHidden(), features);
        }
    }

    /** Projected features [images, tokensPerImage, text hidden] of pixel values [images, C, H, W]. */
    public NDArray imageFeatures(NDArray pixels, boolean training) {
        List<NDArray> states = tower.hiddenStates(pixels, llava.deepestFeatureLayer(), training);
        NDList picked = new NDList();
        for (int l : llava.featureLayers) {
            NDArray st = states.get(l);
            picked.add(llava.dropFirst ? st.get(":, 1:, :") : st);
        }
        NDArray selected = picked.size() == 1 ? picked.get(0) : NDArrays.concat(picked, -1);
        NDArray x = projector(selected, "linear_1");
        x = Activations.apply(llava.projectorActivation, x);
        return projector(x, "linear_2");
    }

    private NDArray projector(NDArray x, String layer) {
        NDArray w = params.get(LlavaLayout.PROJECTOR + layer + ".weight");
        NDArray bias = params.get(LlavaLayout.PROJECTOR + layer + ".bias");
        return (bias == null ? Linear.linear(x, w) : Linear.linear(x, w, bias)).singletonOrThrow();
    }

    /** The model's image inputs. */
    private final class Input implements VisionInput {

        @Override
        public int imageTokenId() {
            return llava.imageTokenId;
        }

        @Override
        public int tokensPerImage() {
            return llava.tokensPerImage();
        }

        @Override
        public NDArray pixelValues(List<Path> images, NDManager m) {
            return processor.pixelValues(images, m);
        }

        @Override
        public String describe() {
            return "image token " + llava.imageTokenId + " x " + llava.tokensPerImage() + ", " + llava.vision.modelType
                    + " " + llava.vision.imageSize + "px; " + processor.describe();
        }
    }
}
