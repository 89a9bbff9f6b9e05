package org.distillery.multimodal.internal;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.model.InitializerContext;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelConfig;
import org.distillery.api.model.ModelInitializer;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.run.RunResources;
import org.distillery.kit.config.Params;

/**
 * {@code mm.compose}: builds a LLaVA student as LLaVA-KD's small MLLM is built: the vision tower
 * of a LLaVA model (its {@code vision_config}, feature layer, strategy, image token and projector
 * activation; {@code vision-from}, by default the run's teacher, as both models of LLaVA-KD share
 * one SigLIP), a pretrained text model ({@code language-model}, any supported architecture whose
 * vocabulary holds the image token) and a freshly initialised projector between them (seeded by
 * the run). Parameter names follow Hugging Face: the language model's {@code model.*} (GPT-2:
 * {@code transformer.*}) become {@code model.language_model.*}, its {@code lm_head.weight} stays.
 * The student takes the processor defaults of its tower; the teacher's {@code preprocessor_config.json}
 * must agree, which {@code train.kd} checks.
 * <pre>
 * student.initializer { key = mm.compose, params { language-model = ${DISTILL_HOME}/config/models/vlm-student-llm } }
 * </pre>
 */
final class ComposeInitializer implements ModelInitializer {

    /** Registry key. */
    static final String KEY = "mm.compose";

    private static final String VISION = "model.vision_tower.";
    private static final String LANGUAGE = "model.language_model.";
    private static final String HEAD = "lm_head.weight";

    private final Params params;

    ComposeInitializer(Params params) {
        this.params = params;
    }

    @Override
    public LanguageModel initialize(InitializerContext context, LanguageModel teacher) {
        RunResources run = context.resources();
        String visionFrom = params.string("vision-from");
        String language = params.string("language-model");
        if (language.isEmpty()) {
            throw new InvalidConfigException(params.at("language-model"), "is required", "\"\"",
                    "a Hugging Face text model folder");
        }
        try (NDManager scratch = run.manager().newSubManager()) {
            LanguageModel vision = visionFrom.isEmpty() ? teacher : load(run, visionFrom, scratch, "vision-from");
            if (vision == null || vision.vision().isEmpty()) {
                throw new InvalidConfigException(params.at("vision-from"), "needs a LLaVA model (a vision tower)",
                        visionFrom.isEmpty() ? "the teacher" : visionFrom, "a llava model folder, or \"\" for the teacher");
            }
            LanguageModel lm = load(run, language, scratch, "language-model");
            if (lm.vision().isPresent()) {
                throw new InvalidConfigException(params.at("language-model"), "is a multimodal model, not a text model",
                        language, "a text model folder (gpt2, llama, qwen2, mistral, ...)");
            }
            int token = vision.vision().get().imageTokenId();
            ModelConfig t = lm.config();
            if (token >= t.vocabSize()) {
                throw new InvalidConfigException(params.at("language-model"), "its vocabulary of " + t.vocabSize()
                        + " ids does not hold the image token " + token, language,
                        "a text model whose vocabulary holds the image token");
            }
            Map<String, Object> raw = new LinkedHashMap<>(vision.config().raw());
            raw.put("text_config", new LinkedHashMap<>(t.raw()));
            raw.remove("architectures");
            raw.remove("torch_dtype");
            ModelConfig config = new ModelConfig("llava", t.vocabSize(), t.hiddenSize(), t.numLayers(), t.numHeads(),
                    t.numKeyValueHeads(), t.intermediateSize(), t.maxPositions(), raw);
            LanguageModel student;
            try {
                student = run.models().create(config, run.seed(), run.manager());
            } catch (IllegalArgumentException e) {
                throw new InvalidConfigException(params.at("language-model"), "cannot be composed with the tower: "
                        + e.getMessage(), language, "a compatible text model");
            }
            int copied = 0;
            for (Map.Entry<String, NDArray> e : student.parameters().entrySet()) {
                NDArray src = source(e.getKey(), vision, lm);
                if (src == null) {
                    continue;
                }
                if (!src.getShape().equals(e.getValue().getShape())) {
                    student.close();
                    throw new InvalidConfigException(params.path(), "parameter " + e.getKey() + " has shape "
                            + e.getValue().getShape() + " but its source has " + src.getShape(), null, null);
                }
                e.getValue().set(src.toType(e.getValue().getDataType(), false).toByteBuffer());
                copied++;
            }
            run.events().event(KEY, Map.of("vision-from", visionFrom.isEmpty() ? "teacher" : visionFrom,
                    "language-model", language, "copied-parameters", copied,
                    "initialised-parameters", student.parameters().size() - copied));
            return student;
        }
    }

    /** The source of a student parameter: the tower's, the language model's, or {@code null} (the projector). */
    private static NDArray source(String name, LanguageModel vision, LanguageModel lm) {
        if (name.startsWith(VISION)) {
            return vision.parameters().get(name);
        }
        if (name.equals(HEAD)) {
            return lm.parameters().get(HEAD);
        }
        if (name.startsWith(LANGUAGE)) {
            String rest = name.substring(LANGUAGE.length());
            NDArray a = lm.parameters().get("model." + rest);
            return a != null ? a : lm.parameters().get("transformer." + rest);
        }
        return null;
    }

    private LanguageModel load(RunResources run, String dir, NDManager scratch, String key) {
        try {
            return run.models().load(Path.of(dir), DataType.FLOAT32, scratch);
        } catch (IOException | RuntimeException e) {
            throw new InvalidConfigException(params.at(key), e.getMessage(), dir, "a loadable Hugging Face model folder");
        }
    }

    /** The factory. */
    static final class Factory implements ModelInitializerFactory {
        @Override
        public String description() {
            return "a LLaVA student from a LLaVA model's vision tower, a pretrained text model and a fresh projector";
        }

        @Override
        public ModelInitializer create(Config params) {
            return new ComposeInitializer(Params.of(params, "student.initializer.params"));
        }
    }
}
