package org.distillery.moe.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.ModelOutput;
import org.distillery.api.run.RunContext;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;

/**
 * {@code moe.ka}: Knowledge Augmentation's teacher (Kim, Chu, Yang, "Every Expert Matters",
 * arXiv 2502.12947, as coded in gmkim-ai/MoEKD {@code finetune_gkd.py}). The frozen MoE teacher
 * scores each batch M times, each pass routing through {@link SampledRouting}; the output's
 * {@code logits} are the first pass and {@code logitSamples} all M. Pair it with the
 * {@code moe.ka} loss, which averages a divergence over the samples.
 *
 * <p>Defaults: {@code samples} M = 4, {@code experts-per-token} k' = 0 (the teacher's own k),
 * {@code sampling-prob} s = 1 (every token sampled; the reference's "no hybrid"). With M = 1 and
 * s = 0 the teacher is the plain local teacher and KA is plain KD.
 * <pre>
 * teacher { key = moe.ka, params { model-dir = ..., samples = 4, sampling-prob = 1.0 } }
 * train.loss = [ { key = moe.ka, params { divergence = kd.reverse-kl } } ]
 * </pre>
 */
final class KaTeacher extends MoeTeachers.Base {

    /** Registry key. */
    static final String KEY = "moe.ka";

    private final int samples;
    private final SampledRouting routing;

    KaTeacher(LanguageModel model, int samples, int sampledK, double samplingProb, String identity) {
        super(model, identity);
        MoeLayout layout = MoeLayout.of(model);
        this.samples = samples;
        this.routing = new SampledRouting(sampledK, samplingProb, layout.normTopK());
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        List<NDArray> logits = new ArrayList<>(samples);
        List<NDArray> hidden = List.of();
        for (int m = 0; m < samples; m++) {
            ForwardOptions opts = ForwardOptions.inference().withMask(batch.attentionMask()).withRouting(routing);
            if (hiddenStates && m == 0) {
                opts = opts.withHiddenStates();
            }
            ModelOutput out = model.forward(batch.inputIds(), opts);
            out.logits().attach(manager);
            logits.add(out.logits());
            if (m == 0) {
                out.hiddenStates().forEach(h -> h.attach(manager));
                hidden = hiddenStates ? out.hiddenStates() : List.of();
            }
        }
        return new TeacherOutput(logits.get(0), null, null, null, hidden, logits);
    }

    /** Opens {@link KaTeacher} from {@code model-dir}, {@code samples}, {@code experts-per-token}, {@code sampling-prob}. */
    static final class Factory implements TeacherFactory {
        @Override
        public String description() {
            return "MoE teacher scored M times with experts sampled from the router (Knowledge Augmentation)";
        }

        @Override
        public Teacher open(RunContext run, Config params) {
            Params p = new Params(params, "teacher.params.");
            int samples = p.atLeast("samples", 1);
            int sampledK = p.atLeast("experts-per-token", 0);
            double s = p.probability("sampling-prob");
            String dir = p.string("model-dir");
            LanguageModel model = MoeTeachers.load(run, dir);
            MoeLayout layout = MoeLayout.of(model);
            if (sampledK > layout.numExperts()) {
                model.close();
                throw new InvalidConfigException(p.path("experts-per-token"), "exceeds the teacher's "
                        + layout.numExperts() + " experts", String.valueOf(sampledK), "0.." + layout.numExperts());
            }
            String id = KEY + ":" + Path.of(dir).toAbsolutePath().normalize() + "?samples=" + samples + "&k="
                    + (sampledK == 0 ? layout.topK() : sampledK) + "&s=" + s;
            return new KaTeacher(model, samples, sampledK, s, id);
        }
    }
}
