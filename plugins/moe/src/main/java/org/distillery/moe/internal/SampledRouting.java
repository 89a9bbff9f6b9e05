package org.distillery.moe.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDArrays;
import ai.djl.ndarray.NDList;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.model.RoutingOverride;

/**
 * Knowledge Augmentation's stochastic routing (Kim, Chu, Yang, "Every Expert Matters",
 * arXiv 2502.12947; reference code gmkim-ai/MoEKD, {@code TopKBalancedNoisyGate}). Per token
 * and MoE layer:
 * <ul>
 *   <li>with probability {@code s} ({@code sampling-prob}): draw k' ({@code experts-per-token})
 *       experts without replacement from Categorical(softmax(h)). This uses the Gumbel-top-k
 *       identity: the k' largest of h_e + G_e with G_e i.i.d. standard Gumbel are distributed
 *       exactly like k' successive draws without replacement ({@code torch.multinomial(replacement=False)});</li>
 *   <li>otherwise: the deterministic top-k_d ({@code deterministic-experts-per-token}), by
 *       default k_d = k', the raised number: the reference sets the gate's {@code num_selects} and
 *       {@code new_num_selects} to the same k' (e.g. 7 of 8, s = 0.05), so its deterministic branch
 *       routes through the top k' experts, not the model's native top-k.</li>
 * </ul>
 * Gate weights are the router probabilities of the chosen experts, renormalised to sum to 1
 * when the model renormalises its own top-k (Mixtral; for it this equals the reference's
 * softmax over the selected logits). When the two branches choose different numbers of experts,
 * the shorter choice is padded with weight-0 slots. With s = 0 and k_d = the model's k the routing
 * is the model's own, operation for operation. Randomness comes from the engine's generator (seeded
 * per step by the trainer), so a resumed run draws the same.
 */
final class SampledRouting implements RoutingOverride {

    private final int sampledK;
    private final int deterministicK;
    private final double samplingProb;
    private final boolean normTopK;

    /**
     * Creates the routing.
     *
     * @param sampledK k', experts drawn per token; 0 means the model's own k
     * @param deterministicK k_d, experts of the deterministic branch; 0 means k'
     * @param samplingProb s, the per-token probability of using the sampled set
     * @param normTopK whether the model renormalises its top-k weights
     */
    SampledRouting(int sampledK, int deterministicK, double samplingProb, boolean normTopK) {
        this.sampledK = sampledK;
        this.deterministicK = deterministicK;
        this.samplingProb = samplingProb;
        this.normTopK = normTopK;
    }

    @Override
    public Routing route(int layer, NDArray routerLogits, int topK) {
        int kPrime = sampledK == 0 ? topK : sampledK;
        int kFixed = deterministicK == 0 ? kPrime : deterministicK;
        NDArray probs = routerLogits.softmax(-1);
        if (samplingProb == 0) {
            return deterministic(probs, kFixed);
        }
        NDManager m = routerLogits.getManager();
        long n = routerLogits.getShape().get(0);
        NDArray u = m.randomUniform(1e-20f, 1f, routerLogits.getShape());
        NDArray gumbel = u.log().neg().log().neg();
        NDArray sampledExperts = routerLogits.add(gumbel).topK(kPrime, -1, true, true).get(1);
        NDArray sampledWeights = probs.gather(sampledExperts, -1);
        if (normTopK) {
            sampledWeights = sampledWeights.div(sampledWeights.sum(new int[] {-1}, true));
        }
        Routing sampled = new Routing(sampledExperts, sampledWeights);
        if (samplingProb == 1) {
            return sampled;
        }
        NDArray useSampled = m.randomUniform(0f, 1f, new Shape(n, 1)).lt((float) samplingProb);
        return combine(sampled, deterministic(probs, kFixed), useSampled);
    }

    /**
     * Per token, the sampled choice where {@code useSampled} [tokens, 1] is true (the coin), else
     * the deterministic one; both padded to the wider of the two.
     */
    static Routing combine(Routing sampled, Routing fixed, NDArray useSampled) {
        long n = sampled.experts().getShape().get(0);
        int width = (int) Math.max(sampled.experts().getShape().get(1), fixed.experts().getShape().get(1));
        Routing s = padded(sampled, width);
        Routing f = padded(fixed, width);
        NDArray coin = useSampled.broadcast(new Shape(n, width));
        return new Routing(NDArrays.where(coin, s.experts(), f.experts()), NDArrays.where(coin, s.weights(), f.weights()));
    }

    /** The top-k routing, the same operations as the model's forward pass. */
    Routing deterministic(NDArray probs, int topK) {
        NDList top = probs.topK(topK, -1, true, true);
        NDArray weights = top.get(0);
        if (normTopK) {
            weights = weights.div(weights.sum(new int[] {-1}, true));
        }
        return new Routing(top.get(1), weights);
    }

    /** {@code r} with weight-0 slots (repeating its first expert) up to {@code width} columns. */
    private static Routing padded(Routing r, int width) {
        long k = r.experts().getShape().get(1);
        if (k == width) {
            return r;
        }
        long n = r.experts().getShape().get(0);
        NDArray first = r.experts().get(":, 0:1").repeat(1, width - k);
        NDArray zeros = r.weights().getManager().zeros(new Shape(n, width - k), r.weights().getDataType());
        return new Routing(r.experts().toType(DataType.INT64, false).concat(first.toType(DataType.INT64, false), 1),
                r.weights().concat(zeros, 1));
    }
}
