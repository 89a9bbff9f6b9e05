package org.distillery.moe.internal;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.teacher.ModelTeacher;

/**
 * {@code moe.ka}: Knowledge Augmentation's teacher (Kim, Chu, Yang, "Every Expert Matters",
 * arXiv 2502.12947, as coded in gmkim-ai/MoEKD {@code finetune_gkd.py}). The frozen MoE teacher
 * scores each batch M times, each pass routing through {@link SampledRouting}; the output's
 * {@code logits} are the first pass and {@code logitSamples} all M. Pair it with the
 * {@code moe.ka} loss, which averages a divergence over the samples.
 *
 * <p>Defaults: {@code samples} M = 4, {@code experts-per-token} k' = 0 (the teacher's own k),
 * {@code deterministic-experts-per-token} k_d = 0 (= k'), {@code sampling-prob} s = 1 (every token
 * sampled; the reference's "no hybrid"). The reference's hybrid runs (e.g.
 * {@code kd_3_5B-2_8_to_1_3B_gkd_nr4_ns7_sp05}) use M = 4, k' = k_d = 7 of 8 and s = 0.05. With
 * M = 1, s = 0 and k_d = the teacher's k the teacher is the plain local teacher and KA is plain KD.
 * <pre>
 * teacher { key = moe.ka, params { model-dir = ..., samples = 4, experts-per-token = 7, sampling-prob = 0.05 } }
 * train.loss = [ { key = moe.ka, params { divergence = kd.reverse-kl } } ]
 * </pre>
 */
final class KaTeacher extends ModelTeacher {

    /** Registry key. */
    static final String KEY = "moe.ka";

    private final int samples;
    private final SampledRouting routing;

    KaTeacher(LanguageModel model, int samples, int sampledK, int deterministicK, double samplingProb,
              String identity) {
        super(model, identity);
        MoeLayout layout = MoeLayout.of(model);
        this.samples = samples;
        this.routing = new SampledRouting(sampledK, deterministicK, samplingProb, layout.normTopK());
    }

    @Override
    public TeacherOutput score(TokenBatch batch, boolean hiddenStates, NDManager manager) {
        List<NDArray> logits = new ArrayList<>(samples);
        List<NDArray> hidden = List.of();
        for (int m = 0; m < samples; m++) {
            TeacherOutput pass = forward(batch, hiddenStates && m == 0, manager, routing);
            logits.add(pass.logits());
            if (m == 0) {
                hidden = pass.hiddenStates();
            }
        }
        return new TeacherOutput(logits.get(0), null, null, null, hidden, logits);
    }

    /**
     * Opens {@link KaTeacher} from {@code model-dir}, {@code samples}, {@code experts-per-token},
     * {@code deterministic-experts-per-token}, {@code sampling-prob}.
     */
    static final class Factory implements TeacherFactory {
        @Override
        public String description() {
            return "MoE teacher scored M times with experts sampled from the router (Knowledge Augmentation)";
        }

        @Override
        public Teacher open(TeacherContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            int samples = p.integer("samples", 1);
            int sampledK = p.integer("experts-per-token", 0);
            int deterministicK = p.integer("deterministic-experts-per-token", 0);
            double s = p.probability("sampling-prob");
            String dir = p.string("model-dir");
            LanguageModel model = MoeTeachers.load(context, dir);
            MoeLayout layout = MoeLayout.of(model);
            if (sampledK > layout.numExperts()) {
                model.close();
                throw new InvalidConfigException(p.at("experts-per-token"), "exceeds the teacher's "
                        + layout.numExperts() + " experts", String.valueOf(sampledK), "0.." + layout.numExperts());
            }
            if (deterministicK > layout.numExperts()) {
                model.close();
                throw new InvalidConfigException(p.at("deterministic-experts-per-token"), "exceeds the teacher's "
                        + layout.numExperts() + " experts", String.valueOf(deterministicK), "0.." + layout.numExperts());
            }
            int kPrime = sampledK == 0 ? layout.topK() : sampledK;
            String id = KEY + ":" + Path.of(dir).toAbsolutePath().normalize() + "?samples=" + samples + "&k=" + kPrime
                    + "&kd=" + (deterministicK == 0 ? kPrime : deterministicK) + "&s=" + s;
            return new KaTeacher(model, samples, sampledK, deterministicK, s, id);
        }
    }
}
