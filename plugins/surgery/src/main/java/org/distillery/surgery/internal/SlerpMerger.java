package org.distillery.surgery.internal;

import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.merge.MergeContext;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.merge.Merger;
import org.distillery.api.merge.MergerFactory;
import org.distillery.kit.config.Params;

/**
 * {@code merge.slerp}: spherical linear interpolation of two models, each tensor on its own (Shoemake
 * 1985; as merge tools apply it to weights, e.g. mergekit's {@code slerp}). For tensors v0, v1 flattened,
 * with Ω the angle between them (cos Ω = v0·v1 / (‖v0‖ ‖v1‖)):
 * <pre>
 *   slerp(t; v0, v1) = sin((1 − t) Ω) / sin Ω · v0 + sin(t Ω) / sin Ω · v1
 * </pre>
 * and plain linear interpolation (1 − t) v0 + t v1 when |cos Ω| &gt; {@code dot-threshold} (nearly
 * parallel; default 0.9995) or either tensor is zero. The coefficients come from the normalised tensors
 * and apply to the originals, so norms interpolate too. Integer buffers are copied from the first model.
 *
 * <p>Parameters: {@code t} (0 = the first model, 1 = the second; default 0.5), {@code dot-threshold}.
 * <pre>
 * distill merge out/ a/ b/ --method slerp --set t=0.3
 * </pre>
 */
final class SlerpMerger implements Merger {

    /** Registry key. */
    static final String KEY = "merge.slerp";

    private final Config params;

    SlerpMerger(Config params) {
        this.params = params;
    }

    @Override
    public MergeResult merge(MergeContext context) throws IOException {
        Params p = Params.of(params, context.paramsPath());
        double t = p.probability("t");
        double threshold = p.number("dot-threshold", 0, 1);
        int[] linear = new int[1];
        int[] total = new int[1];
        try (MergeInputs in = MergeInputs.open(context, 2, 2)) {
            Map<String, Object> details = new LinkedHashMap<>();
            details.put("t", t);
            details.put("dot-threshold", threshold);
            return MergeOutput.write(context, in, (name, inputs, scope) -> {
                NDArray v0 = inputs.read(0, name, scope);
                NDArray v1 = inputs.read(1, name, scope);
                double[] c = coefficients(v0, v1, t, threshold);
                total[0]++;
                linear[0] += c[2] > 0 ? 1 : 0;
                details.put("tensors", total[0]);
                details.put("linear-fallbacks", linear[0]);
                return v0.mul(c[0]).add(v1.mul(c[1]));
            }, KEY, params, List.of(1 - t, t), details);
        }
    }

    /**
     * The coefficients {s0, s1, fellBackToLinear} of v0 and v1 (dot products in float64).
     */
    static double[] coefficients(NDArray v0, NDArray v1, double t, double threshold) {
        NDArray a = v0.toType(DataType.FLOAT64, true);
        NDArray b = v1.toType(DataType.FLOAT64, true);
        double dot = a.mul(b).sum().getDouble();
        double n0 = Math.sqrt(a.square().sum().getDouble());
        double n1 = Math.sqrt(b.square().sum().getDouble());
        a.close();
        b.close();
        if (n0 == 0 || n1 == 0) {
            return new double[] {1 - t, t, 1};
        }
        double cos = dot / (n0 * n1);
        if (Math.abs(cos) > threshold) {
            return new double[] {1 - t, t, 1};
        }
        double omega = Math.acos(Math.max(-1, Math.min(1, cos)));
        double sin = Math.sin(omega);
        return new double[] {Math.sin((1 - t) * omega) / sin, Math.sin(t * omega) / sin, 0};
    }

    /** Builds {@link SlerpMerger}. */
    static final class Factory implements MergerFactory {
        @Override
        public String description() {
            return "spherical interpolation of two models at t, tensor by tensor (linear when nearly parallel)";
        }

        @Override
        public Merger create(Config params) {
            return new SlerpMerger(params);
        }
    }
}
