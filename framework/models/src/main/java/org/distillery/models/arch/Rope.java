package org.distillery.models.arch;

import java.util.List;
import java.util.Map;

/** Rotary position embedding frequencies with the Hugging Face scaling modes. */
public final class Rope {

    /** Supported {@code rope_scaling} types. */
    public static final List<String> TYPES = List.of("default", "linear", "dynamic", "llama3");

    private Rope() {
    }

    /** The scaling type of {@code scaling}, {@code default} if none. */
    public static String type(Map<String, Object> scaling) {
        if (scaling == null) {
            return "default";
        }
        Object t = scaling.get("rope_type");
        if (t == null) {
            t = scaling.get("type");
        }
        return t == null ? "default" : t.toString();
    }

    /** Checks that {@code scaling} is a supported mode with its required fields. */
    public static void validate(Map<String, Object> scaling) {
        String type = type(scaling);
        if (!TYPES.contains(type)) {
            throw new IllegalArgumentException("unsupported rope_scaling type '" + type + "' (supported: " + TYPES + ")");
        }
        if (!type.equals("default")) {
            double f = num(scaling, "factor", Double.NaN);
            boolean ok = type.equals("linear") ? f > 0 : f >= 1.0;
            if (!ok) {
                throw new IllegalArgumentException("rope_scaling.factor must be a number"
                        + (type.equals("linear") ? " > 0" : " >= 1") + " (got " + scaling.get("factor") + ")");
            }
        }
        if (type.equals("llama3")) {
            for (String k : List.of("low_freq_factor", "high_freq_factor", "original_max_position_embeddings")) {
                if (!(scaling.get(k) instanceof Number)) {
                    throw new IllegalArgumentException("rope_scaling type llama3 needs a number " + k);
                }
            }
        }
    }

    /** Whether frequencies depend on the sequence length (dynamic NTK). */
    public static boolean isDynamic(ArchConfig c) {
        return type(c.ropeScaling).equals("dynamic");
    }

    /**
     * Inverse frequencies [headDim / 2] for {@code c}.
     *
     * @param seqLen the longest position + 1 seen (only used by dynamic scaling)
     */
    public static float[] invFreq(ArchConfig c, long seqLen) {
        int dim = c.headDim;
        double base = c.ropeTheta;
        String type = type(c.ropeScaling);
        double factor = type.equals("default") ? 1.0 : num(c.ropeScaling, "factor", 1.0);
        if (type.equals("dynamic")) {
            double maxPos = c.maxPositions;
            double len = Math.max(seqLen, maxPos);
            base = base * Math.pow(factor * len / maxPos - (factor - 1), dim / (double) (dim - 2));
        }
        float[] inv = new float[dim / 2];
        for (int i = 0; i < inv.length; i++) {
            float expo = (float) (2 * i) / dim;
            inv[i] = (float) (1.0 / Math.pow(base, expo));
        }
        if (type.equals("linear")) {
            for (int i = 0; i < inv.length; i++) {
                inv[i] = (float) (inv[i] / factor);
            }
        } else if (type.equals("llama3")) {
            double low = num(c.ropeScaling, "low_freq_factor", 1);
            double high = num(c.ropeScaling, "high_freq_factor", 4);
            double old = num(c.ropeScaling, "original_max_position_embeddings", 8192);
            double lowWavelen = old / low;
            double highWavelen = old / high;
            for (int i = 0; i < inv.length; i++) {
                double f = inv[i];
                double wavelen = 2 * Math.PI / f;
                double scaled = wavelen > lowWavelen ? f / factor : f;
                if (!(wavelen < highWavelen) && !(wavelen > lowWavelen)) {
                    double smooth = (old / wavelen - low) / (high - low);
                    scaled = (1 - smooth) * scaled / factor + smooth * scaled;
                }
                inv[i] = (float) scaled;
            }
        }
        return inv;
    }

    private static double num(Map<String, Object> m, String k, double def) {
        Object v = m == null ? null : m.get(k);
        return v instanceof Number n ? n.doubleValue() : def;
    }
}
