package org.distillery.kernel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import com.google.gson.GsonBuilder;
import com.google.gson.JsonArray;
import com.google.gson.JsonObject;
import com.google.gson.JsonParser;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.Example;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.ImageInputException;
import org.distillery.api.model.VisionInput;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.Tokenizer;
import org.distillery.kernel.config.ExperimentException;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.llava.LlavaConfig;
import org.distillery.models.llava.LlavaModel;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.models.tokenizer.ChatTemplates;
import org.distillery.kit.data.Records;
import org.distillery.tensor.DjlTensorService;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code distill model ...}: inspect, create, sample and score Hugging Face model folders, LLaVA
 * folders with images included.
 */
@Command(name = "model", mixinStandardHelpOptions = true, description = "Inspect, create, generate with and score models.",
        subcommands = {ModelCommand.Info.class, ModelCommand.Init.class, ModelCommand.Generate.class,
            ModelCommand.Score.class})
final class ModelCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    static Path requireModelDir(Path dir) {
        if (!Files.isRegularFile(dir.resolve("config.json"))) {
            throw new ExperimentException(List.of("model-dir: no config.json (got \"" + dir
                    + "\"; accepted: a Hugging Face model folder)"));
        }
        return dir;
    }

    /** {@code distill model info}. */
    @Command(name = "info", mixinStandardHelpOptions = true, description = "Architecture, parameters, dtype, vocabulary.")
    static final class Info implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<model-dir>")
        Path dir;

        @Override
        public Integer call() throws Exception {
            requireModelDir(dir);
            HfModelService models = new HfModelService();
            ModelConfig c = models.readConfig(dir);
            try (DjlTensorService tensors = DjlTensorService.start("cpu");
                 NDManager m = tensors.newRunScope("info");
                 LanguageModel model = models.load(dir, DataType.FLOAT32, m)) {
                long params = 0;
                for (NDArray a : model.parameters().values()) {
                    params += a.size();
                }
                Object dtype = c.raw().getOrDefault("torch_dtype", "float32");
                System.out.printf(Locale.ROOT, "architecture   %s%nparameters     %,d%ndtype          %s%n"
                        + "vocab          %d%nhidden         %d%nlayers         %d%nheads          %d (kv %d)%n"
                        + "intermediate   %d%nmax positions  %d%n", c.modelType(), params, dtype, c.vocabSize(),
                        c.hiddenSize(), c.numLayers(), c.numHeads(), c.numKeyValueHeads(), c.intermediateSize(),
                        c.maxPositions());
                if (model instanceof LlavaModel l) {
                    LlavaConfig lc = l.llava();
                    long[] counts = l.parameterCounts();
                    System.out.printf(Locale.ROOT, "language model %s (%,d parameters)%n", lc.text.modelType, counts[2]);
                    System.out.printf(Locale.ROOT, "vision tower   %s: %dx%d pixels, patch %d, hidden %d, %d layers, "
                                    + "%d heads, MLP %d, %s (%,d parameters)%n", lc.vision.modelType, lc.vision.imageSize,
                            lc.vision.imageSize, lc.vision.patchSize, lc.vision.hiddenSize, lc.vision.numLayers,
                            lc.vision.numHeads, lc.vision.intermediateSize, lc.vision.activation, counts[0]);
                    System.out.printf(Locale.ROOT, "features       hidden state(s) %s, %s strategy: %d image tokens "
                                    + "(id %d) per image%n", java.util.Arrays.toString(lc.featureLayers),
                            lc.dropFirst ? "default (position 0 dropped)" : "full", lc.tokensPerImage(), lc.imageTokenId);
                    System.out.printf(Locale.ROOT, "projector      linear %d -> %d, %s, linear %d -> %d%s (%,d parameters)%n",
                            lc.projectorInput(), lc.text.hiddenSize, lc.projectorActivation, lc.text.hiddenSize,
                            lc.text.hiddenSize, lc.projectorBias ? "" : " (no bias)", counts[1]);
                    System.out.println("preprocessing  " + l.processor().describe());
                }
                try {
                    Tokenizer t = models.tokenizer(dir);
                    System.out.printf("tokenizer      %s (%d ids)%n", t.fingerprint(), t.vocabSize());
                } catch (Exception e) {
                    System.out.println("tokenizer      none (" + e.getMessage() + ")");
                }
            }
            return ExitCodes.OK;
        }
    }

    /** The model's image input; a text model given an image is invalid input. */
    static VisionInput requireVision(LanguageModel model) {
        return model.vision().orElseThrow(() -> new ExperimentException(List.of("--image: this "
                + model.config().modelType() + " model has no vision tower (accepted: a llava model folder)")));
    }

    /** Pixel values of the records' images; a missing or unreadable image is invalid input naming the file. */
    static NDArray pixelValues(VisionInput vision, List<Example> records, NDManager m) {
        try {
            return Records.pixelValues(records, vision, m);
        } catch (ImageInputException e) {
            throw new ExperimentException(List.of("--image: " + e.getMessage()));
        }
    }

    /** Generated ids up to (not including) the tokenizer's eos. */
    static int[] untilEos(int[] tokens, Tokenizer tok) {
        for (int i = 0; i < tokens.length; i++) {
            if (tokens[i] == tok.eosId()) {
                return java.util.Arrays.copyOf(tokens, i);
            }
        }
        return tokens;
    }

    /** Small default configs, overridable with {@code --set}. */
    static Map<String, Object> defaults(String arch) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model_type", arch);
        m.put("vocab_size", 259);
        switch (arch) {
            case "gpt2" -> {
                m.put("n_embd", 64);
                m.put("n_layer", 2);
                m.put("n_head", 4);
                m.put("n_positions", 256);
                m.put("bos_token_id", 257);
                m.put("eos_token_id", 258);
            }
            case "llama", "qwen2", "mistral", "mixtral", "qwen2_moe" -> {
                m.put("hidden_size", 64);
                m.put("intermediate_size", 128);
                m.put("num_hidden_layers", 2);
                m.put("num_attention_heads", 4);
                m.put("num_key_value_heads", 2);
                m.put("max_position_embeddings", 256);
                m.put("bos_token_id", 257);
                m.put("eos_token_id", 258);
                if (arch.equals("mixtral")) {
                    m.put("num_local_experts", 4);
                    m.put("num_experts_per_tok", 2);
                }
                if (arch.equals("qwen2_moe")) {
                    m.put("num_experts", 4);
                    m.put("num_experts_per_tok", 2);
                    m.put("moe_intermediate_size", 64);
                    m.put("shared_expert_intermediate_size", 64);
                }
            }
            case "llava" -> {
                // a SigLIP-style tower on 32-pixel images over a small Llama with a byte-level vocabulary
                // plus the image token (259)
                Map<String, Object> vision = new LinkedHashMap<>();
                vision.put("model_type", "siglip_vision_model");
                vision.put("hidden_size", 32);
                vision.put("intermediate_size", 64);
                vision.put("num_hidden_layers", 2);
                vision.put("num_attention_heads", 2);
                vision.put("image_size", 32);
                vision.put("patch_size", 8);
                Map<String, Object> text = defaults("llama");
                text.put("vocab_size", 260);
                m.put("vision_config", vision);
                m.put("text_config", text);
                m.put("image_token_index", 259);
                m.put("vision_feature_layer", -1);
                m.put("vision_feature_select_strategy", "full");
                m.remove("vocab_size");
            }
            default -> throw new ExperimentException(List.of("arch: unknown architecture (got \"" + arch
                    + "\"; accepted: " + String.join(", ", ModelConfigs.SUPPORTED) + ")"));
        }
        return m;
    }

    /** {@code distill model init}. */
    @Command(name = "init", mixinStandardHelpOptions = true,
            description = "Create a randomly initialised model folder (with a byte-level tokenizer).")
    static final class Init implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<arch>", description = "gpt2, llama, qwen2, mistral, mixtral, qwen2_moe, "
                + "llava (fields of its vision_config and text_config as --set vision_config.hidden_size=64)")
        String arch;

        @Parameters(index = "1", paramLabel = "<out-dir>")
        Path out;

        @Option(names = "--set", paramLabel = "field=value", description = "config.json field (repeatable), "
                + "e.g. --set n_layer=4")
        List<String> sets = new ArrayList<>();

        @Option(names = "--seed", description = "initialisation seed (default 0)")
        long seed;

        @Override
        public Integer call() throws Exception {
            Map<String, Object> raw = defaults(arch);
            for (String s : sets) {
                int eq = s.indexOf('=');
                if (eq <= 0) {
                    throw new ExperimentException(List.of("--set " + s + ": expected field=value"));
                }
                String v = s.substring(eq + 1);
                Object value;
                try {
                    value = new com.google.gson.Gson().fromJson(v, Object.class);
                } catch (RuntimeException e) {
                    value = v;
                }
                if (value instanceof Double d && d == Math.rint(d) && !v.contains(".")) {
                    value = d.longValue();
                }
                String key = s.substring(0, eq);
                int dot = key.indexOf('.');
                if (dot > 0 && raw.get(key.substring(0, dot)) instanceof Map<?, ?> nested) {
                    @SuppressWarnings("unchecked")
                    Map<String, Object> inner = (Map<String, Object>) nested;
                    inner.put(key.substring(dot + 1), value);
                } else {
                    raw.put(key, value);
                }
            }
            ModelConfig config;
            try {
                config = ModelConfigs.fromMap(raw);
            } catch (IllegalArgumentException e) {
                throw new ExperimentException(List.of("config: " + e.getMessage()));
            }
            if (Files.exists(out) && !Files.isDirectory(out)) {
                throw new ExperimentException(List.of("out-dir: exists and is not a folder (got \"" + out
                        + "\"; accepted: a new or existing folder)"));
            }
            HfModelService models = new HfModelService();
            try (DjlTensorService tensors = DjlTensorService.start("cpu");
                 NDManager m = tensors.newRunScope("init");
                 LanguageModel model = models.create(config, seed, m)) {
                models.save(model, out, DataType.FLOAT32);
                if (model.vision().isPresent() && model.vision().get().imageTokenId() == 259) {
                    // the image token is the byte tokenizer's fourth special token
                    new ByteTokenizer(List.of("<pad>", "<bos>", "<eos>", "<image>"), "<pad>", "<bos>", "<eos>",
                            ChatTemplates.DEFAULT).save(out);
                } else {
                    new ByteTokenizer().save(out);
                }
                long params = model.parameters().values().stream().mapToLong(NDArray::size).sum();
                System.out.printf(Locale.ROOT, "%s with %,d parameters written to %s%n", arch, params, out);
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill model generate}. */
    @Command(name = "generate", mixinStandardHelpOptions = true, description = "Continue a prompt.")
    static final class Generate implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<model-dir>")
        Path dir;

        @Option(names = "--prompt", required = true, description = "prompt text (repeatable: one batch)")
        List<String> prompts;

        @Option(names = "--max-new-tokens", description = "default 64")
        int maxNew = 64;

        @Option(names = "--temperature", description = "0 = greedy (default)")
        float temperature;

        @Option(names = "--top-k", description = "0 disables (default)")
        int topK;

        @Option(names = "--top-p", description = "1 disables (default)")
        float topP = 1f;

        @Option(names = "--seed", description = "sampling seed (default 0)")
        long seed;

        @Option(names = "--no-cache", description = "decode without the KV cache")
        boolean noCache;

        @Option(names = "--image", paramLabel = "<file>", description = {"a PNG or JPEG image for a model with a vision "
            + "tower: one for every prompt, or one per prompt (repeatable).", "With an image the prompt is laid out as "
            + "training records are: bos, the image's tokens (where the prompt says <image>, else in front, followed "
            + "by a newline), the prompt, a newline."})
        List<Path> images = new ArrayList<>();

        @Override
        public Integer call() throws Exception {
            requireModelDir(dir);
            if (!images.isEmpty() && images.size() != 1 && images.size() != prompts.size()) {
                throw new ExperimentException(List.of("--image: give one image, or one per --prompt (got "
                        + images.size() + " for " + prompts.size() + " prompts)"));
            }
            HfModelService models = new HfModelService();
            try (DjlTensorService tensors = DjlTensorService.start("auto");
                 NDManager m = tensors.newRunScope("generate");
                 LanguageModel model = models.load(dir, DataType.FLOAT32, m)) {
                Tokenizer tok = models.tokenizer(dir);
                if (!images.isEmpty()) {
                    VisionInput vision = requireVision(model);
                    List<Example> records = new ArrayList<>();
                    List<int[]> ids = new ArrayList<>();
                    for (int i = 0; i < prompts.size(); i++) {
                        Path image = images.get(images.size() == 1 ? 0 : i);
                        Example e = Example.imagePair("prompt-" + i, image.toAbsolutePath().toString(), prompts.get(i), "",
                                Map.of());
                        records.add(e);
                        ids.add(Records.promptIds(e, tok, vision));
                    }
                    NDArray pixels = pixelValues(vision, records, m);
                    GenerationResult r = models.generator().generate(model, ids, pixels,
                            new GenerationOptions(maxNew, temperature, topK, topP, java.util.Set.of(), seed, !noCache), m);
                    for (int i = 0; i < prompts.size(); i++) {
                        System.out.println(prompts.get(i) + "\n" + tok.decode(untilEos(r.tokens().get(i), tok)));
                    }
                    return ExitCodes.OK;
                }
                List<int[]> ids = new ArrayList<>();
                for (String p : prompts) {
                    int[] enc = tok.encode(p);
                    if (tok.bosId().isPresent()) {
                        int[] withBos = new int[enc.length + 1];
                        withBos[0] = tok.bosId().getAsInt();
                        System.arraycopy(enc, 0, withBos, 1, enc.length);
                        enc = withBos;
                    }
                    ids.add(enc);
                }
                GenerationResult r = models.generator().generate(model, ids,
                        new GenerationOptions(maxNew, temperature, topK, topP, java.util.Set.of(), seed, !noCache), m);
                for (int i = 0; i < prompts.size(); i++) {
                    System.out.println(prompts.get(i) + tok.decode(r.tokens().get(i)));
                }
            }
            return ExitCodes.OK;
        }
    }

    /** {@code distill model score}. */
    @Command(name = "score", mixinStandardHelpOptions = true,
            description = "Per-token log-probabilities of a sequence, as JSON.")
    static final class Score implements Callable<Integer> {
        @Parameters(index = "0", paramLabel = "<model-dir>")
        Path dir;

        @Option(names = "--text", description = "text to score (tokenised with the model's tokenizer)")
        String text;

        @Option(names = "--ids", split = ",", description = "token ids to score, e.g. 1,2,3 (with --image: holding the "
                + "image token once per image feature, as a processor expands it)")
        int[] ids;

        @Option(names = "--image", paramLabel = "<file>", description = "a PNG or JPEG image for a model with a vision "
                + "tower; with --text it goes where the text says <image>, else right after bos")
        Path image;

        @Override
        public Integer call() throws Exception {
            requireModelDir(dir);
            if ((text == null) == (ids == null)) {
                throw new ExperimentException(List.of("score: give exactly one of --text or --ids"));
            }
            HfModelService models = new HfModelService();
            try (DjlTensorService tensors = DjlTensorService.start("auto");
                 NDManager m = tensors.newRunScope("score");
                 LanguageModel model = models.load(dir, DataType.FLOAT32, m)) {
                Tokenizer tok = text != null || Files.exists(dir.resolve("tokenizer_config.json"))
                        || Files.exists(dir.resolve("tokenizer.json")) ? models.tokenizer(dir) : null;
                int[] seq = ids;
                VisionInput vision = image == null ? null : requireVision(model);
                if (text != null && vision != null) {
                    String marked = text.contains(Example.IMAGE_PLACEHOLDER) ? text : Example.IMAGE_PLACEHOLDER + text;
                    int at = marked.indexOf(Example.IMAGE_PLACEHOLDER);
                    int[] img = new int[vision.tokensPerImage()];
                    java.util.Arrays.fill(img, vision.imageTokenId());
                    seq = Records.withBos(Records.concat(tok.encode(marked.substring(0, at)), img,
                            tok.encode(marked.substring(at + Example.IMAGE_PLACEHOLDER.length()))), tok);
                } else if (text != null) {
                    int[] enc = tok.encode(text);
                    seq = enc;
                    if (tok.bosId().isPresent()) {
                        seq = new int[enc.length + 1];
                        seq[0] = tok.bosId().getAsInt();
                        System.arraycopy(enc, 0, seq, 1, enc.length);
                    }
                }
                int vocab = model.config().vocabSize();
                for (int id : seq) {
                    if (id < 0 || id >= vocab) {
                        throw new ExperimentException(List.of("--ids: id " + id + " outside the vocabulary (accepted: 0.."
                                + (vocab - 1) + ")"));
                    }
                }
                long[] input = new long[seq.length];
                int imageTokens = 0;
                int imageId = model.vision().map(VisionInput::imageTokenId).orElse(-1);
                for (int i = 0; i < seq.length; i++) {
                    input[i] = seq[i];
                    imageTokens += seq[i] == imageId ? 1 : 0;
                }
                NDArray pixels = null;
                if (vision != null) {
                    if (imageTokens != vision.tokensPerImage()) {
                        throw new ExperimentException(List.of("--ids: hold " + imageTokens + " image tokens (id " + imageId
                                + ") but the image " + image + " gives " + vision.tokensPerImage() + " features"));
                    }
                    pixels = pixelValues(vision, List.of(Example.imagePair("image", image.toString(), "", "", Map.of())), m);
                } else if (imageTokens > 0) {
                    throw new ExperimentException(List.of("--ids: hold " + imageTokens + " image tokens (id " + imageId
                            + ") but no --image was given"));
                }
                NDArray logits = model.forward(m.create(input, new ai.djl.ndarray.types.Shape(1, seq.length)),
                        ForwardOptions.inference().withPixelValues(pixels)).logits();
                float[] logp = logits.logSoftmax(-1).toFloatArray();
                JsonArray tokens = new JsonArray();
                double total = 0;
                for (int t = 1; t < seq.length; t++) {
                    float lp = logp[(t - 1) * vocab + seq[t]];
                    total += lp;
                    JsonObject o = new JsonObject();
                    o.addProperty("position", t);
                    o.addProperty("id", seq[t]);
                    if (tok != null) {
                        o.addProperty("token", tok.decode(new int[] {seq[t]}));
                    }
                    o.addProperty("logprob", lp);
                    tokens.add(o);
                }
                JsonObject out = new JsonObject();
                out.addProperty("model", dir.toString());
                if (image != null) {
                    out.addProperty("image", image.toString());
                }
                out.add("tokens", tokens);
                out.addProperty("sum_logprob", total);
                out.addProperty("mean_logprob", seq.length > 1 ? total / (seq.length - 1) : 0);
                System.out.println(new GsonBuilder().setPrettyPrinting().create().toJson(JsonParser.parseString(out.toString())));
            }
            return ExitCodes.OK;
        }
    }
}
