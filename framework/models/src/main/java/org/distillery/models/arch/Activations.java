package org.distillery.models.arch;

import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.nn.Activation;

import org.distillery.kit.loss.Scalars;

/** The feed-forward activations of the supported architectures. */
public final class Activations {

    /** Accepted activation names. */
    public static final List<String> NAMES = List.of("gelu_new", "gelu_pytorch_tanh", "gelu_fast", "gelu", "relu",
            "silu", "swish", "quick_gelu");

    private static final double SQRT_2_OVER_PI = Math.sqrt(2.0 / Math.PI);

    private Activations() {
    }

    /** Fails on an unknown activation name. */
    public static void check(String name) {
        if (!NAMES.contains(name)) {
            throw new IllegalArgumentException("unsupported activation '" + name + "' (supported: " + NAMES + ")");
        }
    }

    /** Applies activation {@code name} to {@code x}. */
    public static NDArray apply(String name, NDArray x) {
        switch (name) {
            case "silu":
            case "swish":
                return x.mul(Activation.sigmoid(x));
            case "relu":
                return Activation.relu(x);
            case "gelu":
                return Activation.gelu(x);
            case "quick_gelu":
                // CLIP: x * sigmoid(1.702 x)
                return x.mul(Activation.sigmoid(x.mul(Scalars.of(x, 1.702))));
            default:
                // tanh approximation (GPT-2 gelu_new): 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
                NDArray cube = x.mul(x).mul(x);
                NDArray inner = cube.mul(Scalars.of(cube, 0.044715)).add(x);
                inner = inner.mul(Scalars.of(inner, SQRT_2_OVER_PI));
                NDArray half = inner.tanh().add(1f).mul(x);
                return half.mul(Scalars.of(half, 0.5));
        }
    }
}
