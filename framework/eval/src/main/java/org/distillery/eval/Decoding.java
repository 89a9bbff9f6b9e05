package org.distillery.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import com.typesafe.config.Config;

import org.distillery.api.InvalidConfigException;

/**
 * How an evaluation generates the responses that text metrics read.
 *
 * <p>MiniLLM's protocol (LMOps {@code scripts/*&#47;eval}, and the MoE-KD reference's
 * {@code run_eval.sh}): responses sampled at temperature 1 with no top-k and no top-p, once per
 * generation seed, every text metric computed per seed and averaged over 5 seeds ({@link #paper()}).
 * Greedy decoding is one deterministic pass ({@link #greedy()}).
 *
 * <pre>
 * generation { mode = sample, temperature = 1.0, top-k = 0, top-p = 1.0, seeds = [1, 2, 3, 4, 5] }
 * generation { mode = greedy }
 * </pre>
 *
 * @param sample sample ({@code true}) or decode greedily
 * @param temperature sampling temperature (ignored when greedy)
 * @param topK keep the k most likely tokens when sampling; 0 disables
 * @param topP nucleus mass when sampling; 1 disables
 * @param seeds one generation pass per seed (a greedy decoding has one pass)
 */
public record Decoding(boolean sample, float temperature, int topK, float topP, List<Long> seeds) {

    /** Checks the fields. */
    public Decoding {
        if (seeds == null || seeds.isEmpty()) {
            throw new IllegalArgumentException("a decoding needs at least one generation seed");
        }
        seeds = List.copyOf(new LinkedHashSet<>(seeds));
        if (!sample && seeds.size() != 1) {
            throw new IllegalArgumentException("greedy decoding is one pass; got seeds " + seeds);
        }
    }

    /** One greedy pass. */
    public static Decoding greedy() {
        return new Decoding(false, 0f, 0, 1f, List.of(0L));
    }

    /** MiniLLM's protocol: pure sampling at temperature 1, generation seeds 1 to 5. */
    public static Decoding paper() {
        return new Decoding(true, 1f, 0, 1f, List.of(1L, 2L, 3L, 4L, 5L));
    }

    /**
     * Reads {@code {mode = sample | greedy, temperature, top-k, top-p, seeds}} (a greedy block needs
     * only {@code mode}); errors name {@code path}.
     */
    public static Decoding of(Config c, String path) {
        String mode = c.getString("mode");
        if (mode.equals("greedy")) {
            return greedy();
        }
        if (!mode.equals("sample")) {
            throw new InvalidConfigException(path + ".mode", "unknown decoding", mode, "sample, greedy");
        }
        double t = c.getDouble("temperature");
        if (!(t > 0)) {
            throw new InvalidConfigException(path + ".temperature", "must be > 0 when sampling", Double.toString(t),
                    "> 0 (mode = greedy for deterministic decoding)");
        }
        int topK = c.getInt("top-k");
        if (topK < 0) {
            throw new InvalidConfigException(path + ".top-k", "must be >= 0", Integer.toString(topK), "0 (off) or more");
        }
        double topP = c.getDouble("top-p");
        if (!(topP > 0 && topP <= 1)) {
            throw new InvalidConfigException(path + ".top-p", "must be in (0, 1]", Double.toString(topP), "(0, 1]");
        }
        List<Long> seeds = c.getLongList("seeds");
        if (seeds.isEmpty()) {
            throw new InvalidConfigException(path + ".seeds", "needs at least one generation seed", "[]",
                    "e.g. [1, 2, 3, 4, 5]");
        }
        return new Decoding(true, (float) t, topK, (float) topP, new ArrayList<>(seeds));
    }

    /** A line for reports, e.g. {@code sampled at temperature 1.0 (top-k off, top-p 1.0), 5 generation seeds}. */
    public String describe() {
        if (!sample) {
            return "greedy decoding";
        }
        return String.format(Locale.ROOT, "sampled at temperature %s (top-k %s, top-p %s), %d generation seed%s %s",
                temperature, topK == 0 ? "off" : Integer.toString(topK), topP, seeds.size(), seeds.size() == 1 ? "" : "s",
                seeds);
    }

    /** The settings as a JSON-friendly map. */
    public Map<String, Object> toMap() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("mode", sample ? "sample" : "greedy");
        if (sample) {
            m.put("temperature", temperature);
            m.put("top-k", topK);
            m.put("top-p", topP);
            m.put("seeds", seeds);
        }
        return m;
    }
}
