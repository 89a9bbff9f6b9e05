package org.distillery.moe.internal;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.RoutingOverride;

/**
 * Every expert for every token, mixed by the router's full softmax: the teacher of Student-Aware
 * Routing ({@code num_selects = E} in the reference code). The weights are a differentiable
 * function of the router logits, so a gradient collector around the forward trains the router.
 */
final class DenseRouting implements RoutingOverride {

    @Override
    public Routing route(int layer, NDArray routerLogits, int topK) {
        long n = routerLogits.getShape().get(0);
        long e = routerLogits.getShape().get(1);
        NDArray experts = routerLogits.getManager().arange(0, (int) e, 1, DataType.INT64).reshape(1, e).repeat(0, n);
        return new Routing(experts, routerLogits.softmax(-1));
    }
}
