package org.distillery.surgery.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.Merger;
import org.distillery.api.merge.MergerFactory;
import org.distillery.kit.config.Params;

/**
 * {@code merge.linear}: the weighted average of models of one architecture, θ = Σ_i w_i θ_i, every
 * floating-point tensor by itself (a "model soup" with equal weights; Wortsman et al., arXiv 2203.05482;
 * the linear mix of LM-Cocktail's {@code mix_models}). Integer tensors (buffers) are copied from the
 * first model. Computed in float32, one input tensor at a time: at most the running sum and one input
 * tensor are in memory.
 *
 * <p>Parameters: {@code weights} (one per model; {@code []} = equal weights 1/n), {@code normalize}
 * (divide the weights by their sum; default false, so weights that do not sum to 1 extrapolate, as in
 * task arithmetic).
 * <pre>
 * distill merge out/ fine-tuned/ base/ --weights 0.7,0.3
 * merger { key = merge.linear, params { weights = [0.7, 0.3] } }
 * </pre>
 */
final class LinearMerger implements Merger {

    /** Registry key. */
    static final String KEY = "merge.linear";

    private final Config params;

    LinearMerger(Config params) {
        this.params = params;
    }

    @Override
    public MergeResult merge(MergeContext context) throws IOException {
        Params p = Params.of(params, context.paramsPath());
        try (MergeInputs in = MergeInputs.open(context, 1, Integer.MAX_VALUE)) {
            List<Double> weights = weights(p, "weights", in.size(), p.bool("normalize"));
            return merge(context, in, weights, KEY, params, Map.of());
        }
    }

    /** The weighted sum of {@code in} with {@code weights}, written by {@link MergeOutput}. */
    static MergeResult merge(MergeContext context, MergeInputs in, List<Double> weights, String key, Config params,
                             Map<String, Object> details) throws IOException {
        return MergeOutput.write(context, in, (name, inputs, scope) -> weightedSum(name, inputs, weights, scope), key,
                params, weights, details);
    }

    /** Σ_i w_i x_i of one tensor, reading the inputs one at a time (models of weight 0 are not read). */
    static NDArray weightedSum(String name, MergeInputs in, List<Double> weights, NDManager scope) throws IOException {
        NDArray sum = null;
        for (int i = 0; i < in.size(); i++) {
            double w = weights.get(i);
            if (w == 0 && (sum != null || i < in.size() - 1)) {
                continue;
            }
            NDArray x = in.read(i, name, scope);
            x.muli(w);
            if (sum == null) {
                sum = x;
            } else {
                sum.addi(x);
                x.close();
            }
        }
        return sum;
    }

    /**
     * The list of numbers at {@code key}: one per model, or empty for equal weights 1/n; divided by their
     * sum when {@code normalize}.
     */
    static List<Double> weights(Params p, String key, int models, boolean normalize) {
        List<Double> given;
        try {
            given = p.config().getDoubleList(key);
        } catch (ConfigException e) {
            throw new InvalidConfigException(p.at(key), "must be a list of numbers", null, "e.g. [0.7, 0.3]");
        }
        if (given.isEmpty()) {
            return Collections.nCopies(models, 1.0 / models);
        }
        if (given.size() != models) {
            throw new InvalidConfigException(p.at(key), "needs one weight per model (" + models + ")", given.toString(),
                    models + " numbers");
        }
        double sum = 0;
        for (double w : given) {
            if (!Double.isFinite(w)) {
                throw new InvalidConfigException(p.at(key), "must be finite numbers", given.toString(), "finite numbers");
            }
            sum += w;
        }
        if (!normalize) {
            return List.copyOf(given);
        }
        if (sum == 0) {
            throw new InvalidConfigException(p.at(key), "sum to 0 and cannot be normalised", given.toString(),
                    "weights with a non-zero sum");
        }
        List<Double> out = new ArrayList<>();
        for (double w : given) {
            out.add(w / sum);
        }
        return out;
    }

    /** Builds {@link LinearMerger}. */
    static final class Factory implements MergerFactory {
        @Override
        public String description() {
            return "weighted average of models of one architecture, tensor by tensor (explicit or equal weights)";
        }

        @Override
        public Merger create(Config params) {
            return new LinearMerger(params);
        }
    }
}
