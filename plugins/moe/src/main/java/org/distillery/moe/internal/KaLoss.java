package org.distillery.moe.internal;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.config.Params;
import org.distillery.kit.loss.Scalars;

/**
 * {@code moe.ka}: Knowledge Augmentation's loss (Kim, Chu, Yang, "Every Expert Matters",
 * arXiv 2502.12947; gmkim-ai/MoEKD). The average of a base divergence D over the M teacher
 * distributions the {@code moe.ka} teacher produced with sampled experts:
 * <pre>  L = (1/M) Σ_{m=1..M} D(q_θ, p_T^(m))</pre>
 * D is any registered loss ({@code divergence}, default {@code kd.forward-kl}; the reference uses
 * reverse KL), built once with {@code divergence-params} (a HOCON string over its defaults) and
 * computed once per sample with the teacher output {@link TeacherOutput#withLogits(NDArray) narrowed}
 * to that sample. A teacher without samples counts as one sample, so with a plain teacher (or
 * the KA teacher at M = 1, s = 0) this is exactly D.
 * <pre>
 * loss = [ { key = moe.ka, params { divergence = kd.reverse-kl, divergence-params = "temperature = 1.0" } } ]
 * </pre>
 */
final class KaLoss implements Loss {

    /** Registry key. */
    static final String KEY = "moe.ka";

    private final Loss base;

    KaLoss(Loss base) {
        this.base = base;
    }

    @Override
    public Set<Need> needs() {
        Set<Need> needs = EnumSet.of(Need.TEACHER_LOGITS);
        needs.addAll(base.needs());
        return needs;
    }

    @Override
    public LossValue compute(LossInput input) {
        TeacherOutput teacher = input.teacher();
        if (teacher == null || !teacher.hasLogits()) {
            throw new IllegalArgumentException(KEY + " needs the teacher's full logits (a local or moe.ka teacher)");
        }
        List<NDArray> samples = teacher.logitSamples();
        if (samples.isEmpty()) {
            // one sample: the teacher output as it is (its logits may be fused)
            return base.compute(input);
        }
        NDArray sum = null;
        long count = 0;
        for (NDArray sample : samples) {
            LossValue v = base.compute(input.withTeacher(teacher.withLogits(sample)));
            sum = sum == null ? v.sum() : sum.add(v.sum());
            count = v.count();
        }
        if (samples.size() > 1) {
            sum = sum.div(Scalars.of(sum, samples.size()));
        }
        return new LossValue(sum, count);
    }

    @Override
    public List<NDArray> parameters() {
        return base.parameters();
    }

    /** Builds {@link KaLoss} around the registered loss named by {@code divergence}. */
    static final class Factory implements LossFactory {
        @Override
        public String description() {
            return "average of a divergence over the teacher's M sampled-expert distributions (Knowledge Augmentation)";
        }

        @Override
        public Loss create(LossContext context, Config params) {
            Params p = Params.of(params, context.paramsPath());
            String key = params.getString("divergence");
            if (key.equals(KEY)) {
                throw new InvalidConfigException(p.at("divergence"), "must name another loss", key, "e.g. kd.forward-kl");
            }
            var c = context.registry().find(ContributionKind.LOSS, key, LossFactory.class).orElseThrow(() ->
                    new InvalidConfigException(p.at("divergence"), "no registered loss", key, String.join(", ",
                            context.registry().list(ContributionKind.LOSS).stream().map(i -> i.key())
                                    .filter(k -> !k.equals(KEY)).toList())));
            Config own;
            try {
                own = ConfigFactory.parseString(params.getString("divergence-params"));
            } catch (ConfigException e) {
                throw new InvalidConfigException(p.at("divergence-params"), "is not HOCON: " + e.getMessage(),
                        params.getString("divergence-params"), "e.g. \"temperature = 2.0\"");
            }
            for (String k : own.root().keySet()) {
                if (!c.defaults().hasPath(k)) {
                    throw new InvalidConfigException(p.at("divergence-params") + "." + k, "unknown parameter of " + key, null,
                            String.join(", ", c.defaults().root().keySet()));
                }
            }
            return new KaLoss(c.factory().create(context, own.withFallback(c.defaults()).resolve()));
        }
    }
}
