package org.distillery.surgery.internal;

import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.Merger;
import org.distillery.api.merge.MergerFactory;
import org.distillery.kit.config.Params;

/**
 * {@code merge.ties}: TIES-merging (Yadav et al., "TIES-Merging: Resolving Interference When Merging
 * Models", arXiv 2306.01708). Model {@code base} is the shared starting point θ_0; every other model i
 * gives a task vector τ_i = θ_i − θ_0. For each tensor:
 * <ol>
 *   <li>trim: keep the {@code density} fraction of entries of τ_i with the largest magnitude (the
 *       ⌈density · n⌉-th largest |τ_i| and above), zero the rest: τ̂_i;</li>
 *   <li>elect: γ = sign(Σ_i w_i τ̂_i) per entry;</li>
 *   <li>disjoint merge: τ_m = Σ_i w_i τ̂_i [sign τ̂_i = γ] / Σ_i w_i [sign τ̂_i = γ] (0 where no model
 *       agrees);</li>
 *   <li>θ = θ_0 + λ τ_m.</li>
 * </ol>
 * Trimming is per tensor (as merge tools do it, so a model is never needed whole); the paper trims each
 * task vector as a whole. Integer buffers are copied from the first model.
 *
 * <p>Parameters: {@code base} (index of the base model, default 0), {@code density} (default 0.2, the
 * paper's k = 20%), {@code weights} (one per task model in input order without the base; [] = 1 each),
 * {@code lambda} (default 1).
 * <pre>
 * distill merge out/ base/ math/ code/ --method ties --set density=0.2
 * </pre>
 */
final class TiesMerger implements Merger {

    /** Registry key. */
    static final String KEY = "merge.ties";

    private final Config params;

    TiesMerger(Config params) {
        this.params = params;
    }

    @Override
    public MergeResult merge(MergeContext context) throws IOException {
        Params p = Params.of(params, context.paramsPath());
        double density = p.number("density", 0, 1);
        if (density == 0) {
            throw new InvalidConfigException(p.at("density"), "keeps nothing", "0", "(0, 1]");
        }
        double lambda = p.number("lambda");
        try (MergeInputs in = MergeInputs.open(context, 2, Integer.MAX_VALUE)) {
            int base = p.integer("base", 0);
            if (base >= in.size()) {
                throw new InvalidConfigException(p.at("base"), "names no input model", String.valueOf(base),
                        "0.." + (in.size() - 1));
            }
            List<Double> taskWeights = p.config().getDoubleList("weights").isEmpty()
                    ? java.util.Collections.nCopies(in.size() - 1, 1.0)
                    : LinearMerger.weights(p, "weights", in.size() - 1, false);
            List<Integer> tasks = new ArrayList<>();
            List<Double> weights = new ArrayList<>();
            for (int i = 0, k = 0; i < in.size(); i++) {
                if (i == base) {
                    weights.add(1.0);
                } else {
                    tasks.add(i);
                    weights.add(taskWeights.get(k++));
                }
            }
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("base", in.dirs().get(base).toString());
            details.put("density", density);
            details.put("lambda", lambda);
            return MergeOutput.write(context, in, (name, inputs, scope) -> {
                NDArray theta0 = inputs.read(base, name, scope);
                List<NDArray> vectors = new ArrayList<>();
                for (int i : tasks) {
                    vectors.add(trim(inputs.read(i, name, scope).sub(theta0), density));
                }
                List<Double> w = new ArrayList<>();
                tasks.forEach(i -> w.add(weights.get(i)));
                return theta0.add(disjointMerge(vectors, w).mul(lambda));
            }, KEY, params, weights, details);
        }
    }

    /** τ with all but its ⌈density · n⌉ largest-magnitude entries set to zero. */
    static NDArray trim(NDArray tau, double density) {
        long n = tau.size();
        long keep = (long) Math.ceil(density * n);
        if (keep >= n) {
            return tau;
        }
        NDArray magnitude = tau.abs();
        float threshold = magnitude.flatten().sort().getFloat(n - keep);
        return tau.mul(magnitude.gte(threshold).toType(DataType.FLOAT32, false));
    }

    /** Σ_i w_i τ̂_i over the models whose sign agrees with the elected one, divided by their Σ_i w_i. */
    static NDArray disjointMerge(List<NDArray> trimmed, List<Double> weights) {
        NDArray total = null;
        for (int i = 0; i < trimmed.size(); i++) {
            NDArray x = trimmed.get(i).mul(weights.get(i));
            total = total == null ? x : total.add(x);
        }
        NDArray elected = total.sign();
        NDArray sum = null;
        NDArray mass = null;
        for (int i = 0; i < trimmed.size(); i++) {
            NDArray sign = trimmed.get(i).sign();
            NDArray agree = sign.eq(elected).logicalAnd(sign.neq(0)).toType(DataType.FLOAT32, false);
            NDArray part = trimmed.get(i).mul(agree).mul(weights.get(i));
            NDArray w = agree.mul(weights.get(i));
            sum = sum == null ? part : sum.add(part);
            mass = mass == null ? w : mass.add(w);
        }
        NDArray safe = mass.add(mass.eq(0).toType(DataType.FLOAT32, false));
        return sum.div(safe);
    }

    /** Builds {@link TiesMerger}. */
    static final class Factory implements MergerFactory {
        @Override
        public String description() {
            return "TIES: task vectors over a base model, trimmed to the top density, sign-elected, disjoint mean";
        }

        @Override
        public Merger create(Config params) {
            return new TiesMerger(params);
        }
    }
}
