package org.distillery.train;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;

/** {@code teacher.local}: a Hugging Face model folder loaded in-process, scored without gradients. */
public final class LocalTeacher implements Teacher {

    private final LanguageModel model;
    private final String identity;

    LocalTeacher(LanguageModel model, String identity) {
        this.model = model;
        this.identity = identity;
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        ForwardOptions opts = ForwardOptions.inference().withMask(batch.attentionMask());
        if (hiddenStates) {
            opts = opts.withHiddenStates();
        }
        ModelOutput out = model.forward(batch.inputIds(), opts);
        out.logits().attach(manager);
        out.hiddenStates().forEach(h -> h.attach(manager));
        return new TeacherOutput(out.logits(), null, null, null, hiddenStates ? out.hiddenStates() : List.of());
    }

    @Override
    public Optional<LanguageModel> model() {
        return Optional.of(model);
    }

    @Override
    public String identity() {
        return identity;
    }

    @Override
    public void close() {
        model.close();
    }

    /** The factory. */
    public static final class Factory implements TeacherFactory {

        @Override
        public String description() {
            return "a Hugging Face model folder loaded in-process";
        }

        @Override
        public Teacher open(RunContext run, Config params) {
            String dir = params.getString("model-dir");
            if (dir.isEmpty()) {
                throw new InvalidConfigException("teacher.params.model-dir", "is required", "\"\"",
                        "a Hugging Face model folder with config.json and model.safetensors");
            }
            try {
                LanguageModel m = run.models().load(Path.of(dir), DataType.FLOAT32, run.manager());
                return new LocalTeacher(m, "local:" + Path.of(dir).toAbsolutePath().normalize());
            } catch (IOException e) {
                throw new InvalidConfigException("teacher.params.model-dir", e.getMessage(), dir,
                        "a loadable Hugging Face model folder");
            }
        }
    }
}
