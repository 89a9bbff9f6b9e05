package org.distillery.kdcore.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

import org.distillery.kdcore.internal.ReferenceLosses.Divergence;

/**
 * One golden-value case of a logit loss: a registry key with parameters, on one fixture,
 * with a full or a top-k teacher.
 *
 * @param key registry key
 * @param divergence the reference divergence, or {@code null} for cross-entropy
 * @param paramName the loss's extra parameter (beta, alpha, label-smoothing) or {@code null}
 * @param param its value
 * @param temperature τ (ignored by cross-entropy)
 * @param withInfinities the fixture with ±inf logits
 * @param topK the teacher as its cached top-k
 */
record GoldenCase(String key, Divergence divergence, String paramName, double param, double temperature,
                  boolean withInfinities, boolean topK) {

    /** Stable name, the first column of the golden file. */
    String name() {
        StringBuilder sb = new StringBuilder(key);
        if (paramName != null) {
            sb.append(' ').append(paramName).append('=').append(param);
        }
        if (divergence != null) {
            sb.append(" temperature=").append(temperature).append(topK ? " teacher=top3" : " teacher=logits");
        }
        return sb.append(withInfinities ? " fixture=inf" : " fixture=plain").toString();
    }

    /** Parameters as HOCON, over the defaults; chunk-size 2 so every case crosses chunk boundaries. */
    String hocon() {
        StringBuilder sb = new StringBuilder("chunk-size = 2\n");
        if (divergence != null) {
            sb.append(String.format(Locale.ROOT, "temperature = %s%n", temperature));
        }
        if (paramName != null) {
            sb.append(String.format(Locale.ROOT, "%s = %s%n", paramName, param));
        }
        return sb.toString();
    }

    Fixture fixture() {
        return withInfinities ? Fixture.withInfinities() : Fixture.plain();
    }

    /** The reference loss at the given student logits. */
    double reference(double[] student) {
        Fixture f = fixture();
        if (divergence == null) {
            return ReferenceLosses.crossEntropy(paramName == null ? 0 : param, f, student);
        }
        return topK ? ReferenceLosses.topK(divergence, param, temperature, f, student)
                : ReferenceLosses.fullVocab(divergence, param, temperature, f, student);
    }

    /** Every case: each divergence at τ 1 and 2, full and top-k teacher, plain and ±inf fixtures; SFT and SeqKD. */
    static List<GoldenCase> all() {
        List<GoldenCase> cases = new ArrayList<>();
        for (boolean inf : new boolean[] {false, true}) {
            for (double tau : new double[] {1.0, 2.0}) {
                for (boolean topK : new boolean[] {false, true}) {
                    cases.add(new GoldenCase("kd.forward-kl", Divergence.FORWARD_KL, null, 0, tau, inf, topK));
                    cases.add(new GoldenCase("kd.reverse-kl", Divergence.REVERSE_KL, null, 0, tau, inf, topK));
                    cases.add(new GoldenCase("kd.jsd", Divergence.JSD, "beta", 0.5, tau, inf, topK));
                    cases.add(new GoldenCase("kd.jsd", Divergence.JSD, "beta", 0.2, tau, inf, topK));
                    cases.add(new GoldenCase("kd.tvd", Divergence.TVD, null, 0, tau, inf, topK));
                    cases.add(new GoldenCase("kd.skew-kl", Divergence.SKEW_KL, "alpha", 0.1, tau, inf, topK));
                    cases.add(new GoldenCase("kd.skew-kl", Divergence.SKEW_KL, "alpha", 0.4, tau, inf, topK));
                    cases.add(new GoldenCase("kd.skew-rkl", Divergence.SKEW_RKL, "alpha", 0.1, tau, inf, topK));
                    cases.add(new GoldenCase("kd.skew-rkl", Divergence.SKEW_RKL, "alpha", 0.4, tau, inf, topK));
                }
            }
            cases.add(new GoldenCase("kd.sft", null, null, 0, 1, inf, false));
            cases.add(new GoldenCase("kd.sft", null, "label-smoothing", 0.1, 1, inf, false));
            cases.add(new GoldenCase("kd.seqkd", null, null, 0, 1, inf, false));
        }
        return cases;
    }
}
