package org.distillery.models;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.TreeMap;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.InvalidFileException;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelService;
import org.distillery.api.model.TensorInfo;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.WeightReader;
import org.distillery.api.model.WeightWriter;
import org.distillery.kit.io.AtomicFiles;
import org.distillery.models.arch.ArchConfig;
import org.distillery.models.arch.Layout;
import org.distillery.models.arch.TransformerLM;
import org.distillery.models.generate.HfGenerator;
import org.distillery.models.io.FolderWeights;
import org.distillery.models.io.FolderWeights.Located;
import org.distillery.models.io.Json;
import org.distillery.models.io.SafeTensors;
import org.distillery.models.llava.LlavaConfig;
import org.distillery.models.llava.LlavaLayout;
import org.distillery.models.llava.LlavaModel;
import org.distillery.models.tokenizer.Tokenizers;
import org.distillery.models.vision.ImageProcessor;

/**
 * The model service: Hugging Face model folders ({@code config.json}, {@code generation_config.json},
 * {@code model.safetensors} or a sharded index) for GPT-2, Llama, Qwen2, Mistral, Mixtral and Qwen2-MoE,
 * and LLaVA ({@code LlavaForConditionalGeneration} over any of them, with a SigLIP or CLIP tower and
 * its {@code preprocessor_config.json}; legacy, current and TinyLLaVA checkpoint names, see
 * {@link LlavaLayout}).
 */
public class HfModelService implements ModelService {

    /** Single-file weights. */
    public static final String WEIGHTS = FolderWeights.WEIGHTS;
    /** Sharded weights index. */
    public static final String INDEX = FolderWeights.INDEX;
    /** Model configuration. */
    public static final String CONFIG = "config.json";
    /** Generation defaults. */
    public static final String GENERATION_CONFIG = "generation_config.json";

    private final HfGenerator generator = new HfGenerator();

    /** Creates the service; the kernel registers one instance. */
    public HfModelService() {
    }

    @Override
    public ModelConfig readConfig(Path dir) throws IOException {
        return ModelConfigs.read(dir);
    }

    @Override
    public DataType weightsType(Path dir) throws IOException {
        checkConfig(dir);
        try (FolderWeights folder = FolderWeights.open(dir)) {
            Set<DataType> types = new HashSet<>();
            for (Located l : folder.located().values()) {
                DataType t = l.entry().dataType();
                if (t != null && t.isFloating()) {
                    types.add(t);
                }
            }
            return types.size() == 1 ? types.iterator().next() : DataType.FLOAT32;
        }
    }

    @Override
    public LanguageModel load(Path dir, DataType dtype, NDManager manager) throws IOException {
        return load(dir, dtype, dtype, manager);
    }

    @Override
    public LanguageModel load(Path dir, DataType weights, DataType computeType, NDManager manager) throws IOException {
        DataType held = checkFloat(weights == null ? DataType.FLOAT32 : weights);
        DataType compute = checkFloat(computeType == null ? held : computeType);
        Checked header = checkConfig(dir);
        try (FolderWeights folder = FolderWeights.open(dir)) {
            Checked checked = check(header, folder);
            NDManager pm = manager.newSubManager();
            boolean ok = false;
            try {
                Map<String, NDArray> params = new LinkedHashMap<>();
                for (String n : checked.shapes().keySet()) {
                    Located l = checked.found().get(n);
                    params.put(n, l.reader().read(l.entry().name(), pm, held));
                }
                LanguageModel model = checked.naming().llava() != null
                        ? new LlavaModel(checked.config(), compute, pm, params, checked.generation(), checked.processor())
                        : new TransformerLM(checked.config(), compute, pm, params, checked.generation());
                ok = true;
                return model;
            } finally {
                if (!ok) {
                    pm.close();
                }
            }
        }
    }

    /**
     * Checks that {@code dir} would load, without reading any tensor data: {@code config.json} is
     * valid and supported, the weight files' headers are valid, and every parameter the config
     * implies is there with its shape and a floating-point dtype. Cheap enough to run before a
     * run directory is created.
     *
     * @return the folder's config
     * @throws InvalidFileException naming the file and what is wrong
     */
    public ModelConfig inspect(Path dir) throws IOException {
        Checked header = checkConfig(dir);
        try (FolderWeights weights = FolderWeights.open(dir)) {
            return check(header, weights).config();
        }
    }

    /**
     * What {@link #checkConfig} and {@link #check} found: the folder, its config and naming, a LLaVA
     * model's image processor, generation defaults, parameter shapes and (after {@link #check}) where
     * each is stored.
     */
    private record Checked(Path dir, ModelConfig config, Naming naming, ImageProcessor processor,
                           Map<String, Object> generation, Map<String, Shape> shapes, Map<String, Located> found) {
    }

    /**
     * How checkpoint names of one model family map to its parameters.
     *
     * @param family the {@code model_type}, for messages
     * @param shapes canonical parameter names and shapes
     * @param llava the LLaVA config, or {@code null} for a text model
     * @param arch the text architecture (a LLaVA model's language model)
     */
    private record Naming(String family, Map<String, Shape> shapes, LlavaConfig llava, ArchConfig arch) {

        String canonical(String fileName) {
            return llava != null ? LlavaLayout.canonical(fileName) : Layout.canonical(arch, fileName);
        }

        boolean tolerated(String canonicalName) {
            return llava != null ? LlavaLayout.tolerated(llava, canonicalName) : Layout.tolerated(arch, canonicalName);
        }
    }

    private static Naming naming(ModelConfig cfg) {
        if (ModelConfigs.isLlava(cfg)) {
            LlavaConfig c = LlavaConfig.parse(ModelConfigs.toMap(cfg));
            return new Naming(LlavaConfig.MODEL_TYPE, LlavaLayout.shapes(c), c, c.text);
        }
        ArchConfig arch = ModelConfigs.arch(cfg);
        return new Naming(arch.modelType, Layout.shapes(arch), null, arch);
    }

    /** The folder's config files, checked before any weight file is opened. */
    private Checked checkConfig(Path dir) throws IOException {
        ModelConfig cfg = readConfig(dir);
        Naming naming = naming(cfg);
        Map<String, Object> gen = Files.exists(dir.resolve(GENERATION_CONFIG))
                ? Json.readMap(dir.resolve(GENERATION_CONFIG)) : Map.of();
        ImageProcessor processor = naming.llava() == null ? null : ImageProcessor.forModel(dir, naming.llava().vision);
        return new Checked(dir, cfg, naming, processor, gen, naming.shapes(), Map.of());
    }

    private static Checked check(Checked header, FolderWeights weights) throws IOException {
        Path dir = header.dir();
        Naming naming = header.naming();
        Map<String, Shape> shapes = header.shapes();
        Map<String, Located> found = locate(weights, naming);
        List<String> missing = new ArrayList<>();
        for (String n : shapes.keySet()) {
            if (!found.containsKey(n)) {
                missing.add(n);
            }
        }
        if (!missing.isEmpty()) {
            throw new InvalidFileException(dir, missing.size() + " parameter(s) of the " + naming.family()
                    + " config missing from the weights: " + abbreviate(missing));
        }
        for (Map.Entry<String, Located> e : found.entrySet()) {
            Shape want = shapes.get(e.getKey());
            SafeTensors.Entry en = e.getValue().entry();
            if (!want.equals(en.djlShape())) {
                throw new InvalidFileException(e.getValue().reader().file(), "tensor '" + en.name() + "' has shape "
                        + Arrays.toString(en.shape()) + " but config.json implies " + want);
            }
            DataType t = en.dataType();
            if (!t.isFloating()) {
                throw new InvalidFileException(e.getValue().reader().file(), "tensor '" + en.name() + "' has dtype "
                        + en.dtype() + "; parameters must be floating point");
            }
        }
        return new Checked(dir, header.config(), naming, header.processor(), header.generation(), shapes, found);
    }

    /** The stored tensors of {@code weights} by canonical parameter name; unexpected tensors fail, naming the file. */
    private static Map<String, Located> locate(FolderWeights weights, Naming naming) throws IOException {
        Map<String, Located> found = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        for (Located l : weights.located().values()) {
            place(naming, l.reader(), l.entry(), found, unexpected);
        }
        if (!unexpected.isEmpty()) {
            throw new InvalidFileException(weights.source(), "unexpected tensor(s) for a " + naming.family()
                    + " model: " + abbreviate(unexpected));
        }
        return found;
    }

    private static void place(Naming naming, SafeTensors.Reader r, SafeTensors.Entry e,
                              Map<String, Located> found, List<String> unexpected) throws IOException {
        String canon = naming.canonical(e.name());
        if (naming.shapes().containsKey(canon)) {
            Located prev = found.put(canon, new Located(r, e));
            if (prev != null) {
                throw new InvalidFileException(r.file(), "tensor '" + e.name() + "' is stored twice (also as '"
                        + prev.entry().name() + "' in " + prev.reader().file().getFileName() + ")");
            }
        } else if (!naming.tolerated(canon)) {
            unexpected.add(e.name());
        }
    }

    private static String abbreviate(List<String> names) {
        if (names.size() <= 5) {
            return String.join(", ", names);
        }
        return String.join(", ", names.subList(0, 5)) + " and " + (names.size() - 5) + " more";
    }

    private static DataType checkFloat(DataType t) {
        if (t == DataType.BFLOAT16) {
            throw new IllegalArgumentException("bfloat16 arrays are not supported by the DJL PyTorch engine (its "
                    + "native layer maps float32, float64 and float16 only); load bfloat16 checkpoints as float16 "
                    + "(exact within float16's range) or float32");
        }
        if (t != DataType.FLOAT32 && t != DataType.FLOAT16 && t != DataType.FLOAT64) {
            throw new IllegalArgumentException("model dtype must be float32, float16 or float64, got " + t);
        }
        return t;
    }

    @Override
    public LanguageModel create(ModelConfig config, long seed, NDManager manager) {
        return create(config, seed, manager, DataType.FLOAT32);
    }

    /**
     * Creates a model with parameters drawn from normal(0, initializer_range) (GPT-2's output
     * projections scaled by 1/sqrt(2 n_layer); a LLaVA tower's and projector's from their own
     * config's range), biases zero and norm weights one, using a
     * {@link SplittableRandom} per parameter seeded from {@code seed} and the parameter name, so
     * the result is the same in every process.
     */
    public LanguageModel create(ModelConfig config, long seed, NDManager manager, DataType dtype) {
        DataType compute = checkFloat(dtype == null ? DataType.FLOAT32 : dtype);
        Map<String, Object> raw = ModelConfigs.toMap(config);
        ModelConfig cfg = ModelConfigs.fromMap(raw);
        Naming naming = naming(cfg);
        ArchConfig arch = naming.arch();
        Map<String, Shape> shapes = naming.shapes();
        NDManager pm = manager.newSubManager();
        boolean ok = false;
        try {
            Map<String, NDArray> params = new LinkedHashMap<>();
            for (Map.Entry<String, Shape> e : shapes.entrySet()) {
                String name = e.getKey();
                long size = e.getValue().size();
                if (size > Integer.MAX_VALUE) {
                    throw new IllegalArgumentException("parameter " + name + " has " + size + " elements; too large");
                }
                float[] data = new float[(int) size];
                double std = naming.llava() != null ? LlavaLayout.initStd(naming.llava(), name) : Layout.initStd(arch, name);
                if (std < 0) {
                    Arrays.fill(data, 1f);
                } else if (std > 0) {
                    SplittableRandom rng = new SplittableRandom(seed * 0x9E3779B97F4A7C15L + name.hashCode());
                    for (int i = 0; i < data.length; i++) {
                        data[i] = (float) (rng.nextGaussian() * std);
                    }
                }
                Object padId = naming.llava() != null ? naming.llava().textConfig.raw().get("pad_token_id")
                        : raw.get("pad_token_id");
                boolean embedding = name.equals(naming.llava() != null ? LlavaLayout.LANGUAGE + "embed_tokens.weight"
                        : "model.embed_tokens.weight");
                if (embedding && padId instanceof Number pad) {
                    int row = pad.intValue();
                    if (row >= 0 && row < arch.vocabSize) {
                        Arrays.fill(data, row * arch.hiddenSize, (row + 1) * arch.hiddenSize, 0f);
                    }
                }
                NDArray a = pm.create(data, e.getValue());
                if (compute != DataType.FLOAT32) {
                    NDArray c = a.toType(compute, false);
                    a.close();
                    a = c;
                }
                params.put(name, a);
            }
            LanguageModel m = naming.llava() != null
                    ? new LlavaModel(cfg, compute, pm, params, Map.of(), ImageProcessor.defaults(naming.llava().vision))
                    : new TransformerLM(cfg, compute, pm, params, Map.of());
            ok = true;
            return m;
        } finally {
            if (!ok) {
                pm.close();
            }
        }
    }

    @Override
    public void save(LanguageModel model, Path dir, DataType dtype) throws IOException {
        DataType out = checkSaveType(dtype);
        Files.createDirectories(dir);
        // weights and configs go into place together: a failed write (a full disk) leaves the folder as it was
        try (AtomicFiles.Group group = AtomicFiles.group()) {
            SafeTensors.write(group, dir.resolve(WEIGHTS), model.parameters(), out, Map.of("format", "pt"));
            writeConfigs(group, model, dir, out);
            group.commit();
        }
    }

    /**
     * Saves the weights as shards of at most {@code maxShardBytes} each (a tensor is never split)
     * plus {@code model.safetensors.index.json}; removes a stale single-file {@code model.safetensors}.
     */
    public void saveSharded(LanguageModel model, Path dir, DataType dtype, long maxShardBytes) throws IOException {
        DataType out = checkSaveType(dtype);
        Files.createDirectories(dir);
        List<Map<String, NDArray>> shards = new ArrayList<>();
        Map<String, NDArray> current = new LinkedHashMap<>();
        long size = 0;
        long total = 0;
        for (String name : new TreeMap<>(model.parameters()).keySet()) {
            NDArray a = model.parameters().get(name);
            long bytes = a.getShape().size() * out.getNumOfBytes();
            if (!current.isEmpty() && size + bytes > maxShardBytes) {
                shards.add(current);
                current = new LinkedHashMap<>();
                size = 0;
            }
            current.put(name, a);
            size += bytes;
            total += bytes;
        }
        if (!current.isEmpty()) {
            shards.add(current);
        }
        Map<String, String> weightMap = new TreeMap<>();
        try (AtomicFiles.Group group = AtomicFiles.group()) {
            for (int i = 0; i < shards.size(); i++) {
                String file = String.format(Locale.ROOT, "model-%05d-of-%05d.safetensors", i + 1, shards.size());
                SafeTensors.write(group, dir.resolve(file), shards.get(i), out, Map.of("format", "pt"));
                for (String n : shards.get(i).keySet()) {
                    weightMap.put(n, file);
                }
            }
            Map<String, Object> index = new LinkedHashMap<>();
            index.put("metadata", Map.of("total_size", total));
            index.put("weight_map", weightMap);
            group.writeString(dir.resolve(INDEX), Json.GSON.toJson(index) + "\n");
            writeConfigs(group, model, dir, out);
            group.commit();
        }
        Files.deleteIfExists(dir.resolve(WEIGHTS));
    }

    private static DataType checkSaveType(DataType dtype) {
        DataType out = dtype == null ? DataType.FLOAT32 : dtype;
        if (out != DataType.FLOAT32 && out != DataType.FLOAT16 && out != DataType.BFLOAT16) {
            throw new IllegalArgumentException("save dtype must be float32, float16 or bfloat16, got " + out);
        }
        return out;
    }

    private static void writeConfigs(AtomicFiles.Group group, LanguageModel model, Path dir, DataType dtype)
            throws IOException {
        Map<String, Object> cfg = ModelConfigs.toMap(model.config());
        cfg.put("torch_dtype", torchName(dtype));
        group.writeString(dir.resolve(CONFIG), Json.GSON.toJson(cfg) + "\n");
        if (model instanceof TransformerLM t && !t.generationConfig().isEmpty()) {
            group.writeString(dir.resolve(GENERATION_CONFIG), Json.GSON.toJson(t.generationConfig()) + "\n");
        }
        if (model instanceof LlavaModel l) {
            if (!l.generationConfig().isEmpty()) {
                group.writeString(dir.resolve(GENERATION_CONFIG), Json.GSON.toJson(l.generationConfig()) + "\n");
            }
            group.writeString(dir.resolve(ImageProcessor.FILE), Json.GSON.toJson(l.processor().fields()) + "\n");
        }
    }

    /** The {@code torch_dtype} name of a DJL type. */
    public static String torchName(DataType t) {
        return switch (t) {
            case FLOAT16 -> "float16";
            case BFLOAT16 -> "bfloat16";
            case FLOAT64 -> "float64";
            default -> "float32";
        };
    }

    /** Writes {@code generation_config.json} (e.g. eos ids) into a model folder. */
    public static void writeGenerationConfig(Path dir, Map<String, Object> fields) throws IOException {
        Json.writeAtomic(dir.resolve(GENERATION_CONFIG), fields);
    }

    @Override
    public Tokenizer tokenizer(Path dir) throws IOException {
        return Tokenizers.load(dir);
    }

    @Override
    public Generator generator() {
        return generator;
    }

    @Override
    public WeightReader openWeights(Path dir) throws IOException {
        return FolderWeights.open(dir);
    }

    @Override
    public WeightWriter writeWeights(Path file, List<TensorInfo> tensors) throws IOException {
        List<SafeTensors.Writer.Spec> specs = new ArrayList<>();
        for (TensorInfo t : tensors) {
            specs.add(new SafeTensors.Writer.Spec(t.name(), t.dataType(), t.shape().getShape()));
        }
        SafeTensors.Writer w = SafeTensors.Writer.create(file, specs, Map.of("format", "pt"));
        return new WeightWriter() {
            @Override
            public void write(String name, NDArray tensor) throws IOException {
                w.write(name, tensor);
            }

            @Override
            public void writeBytes(String name, java.nio.ByteBuffer bytes) throws IOException {
                w.writeBytes(name, bytes);
            }

            @Override
            public void finish() throws IOException {
                w.finish();
            }

            @Override
            public void close() throws IOException {
                w.close();
            }
        };
    }

    @Override
    public ModelConfig withLayers(ModelConfig config, List<Integer> layers) {
        return ModelConfigs.withLayers(config, layers);
    }
}
