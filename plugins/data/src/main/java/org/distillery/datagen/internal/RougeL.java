package org.distillery.datagen.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * ROUGE-L F-measure between two texts, as Self-Instruct's dedup uses it ({@code rouge_score}'s
 * {@code rougeL} without stemming): lowercase, split into runs of ASCII letters and digits, then
 * F = 2PR/(P+R) with P = LCS/|candidate| and R = LCS/|reference|. Symmetric; 0 when either is empty.
 */
final class RougeL {

    private RougeL() {
    }

    /** The tokens ROUGE compares: lowercase alphanumeric runs. */
    static List<String> tokens(String text) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        for (char c : text.toLowerCase(Locale.ROOT).toCharArray()) {
            if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
                cur.append(c);
            } else if (cur.length() > 0) {
                out.add(cur.toString());
                cur.setLength(0);
            }
        }
        if (cur.length() > 0) {
            out.add(cur.toString());
        }
        return out;
    }

    /** ROUGE-L F1 of two texts. */
    static double f1(String a, String b) {
        return f1(tokens(a), tokens(b));
    }

    /** ROUGE-L F1 of two token lists. */
    static double f1(List<String> a, List<String> b) {
        if (a.isEmpty() || b.isEmpty()) {
            return 0.0;
        }
        int lcs = lcs(a, b);
        if (lcs == 0) {
            return 0.0;
        }
        double p = (double) lcs / a.size();
        double r = (double) lcs / b.size();
        return 2 * p * r / (p + r);
    }

    static int lcs(List<String> a, List<String> b) {
        int[] prev = new int[b.size() + 1];
        int[] cur = new int[b.size() + 1];
        for (int i = 1; i <= a.size(); i++) {
            for (int j = 1; j <= b.size(); j++) {
                cur[j] = a.get(i - 1).equals(b.get(j - 1)) ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.size()];
    }

    /**
     * A growing pool of texts that admits a candidate only when its ROUGE-L against every member
     * is below the threshold (Self-Instruct keeps instructions with ROUGE-L &lt; 0.7 to all others).
     */
    static final class Pool {
        private final double threshold;
        private final List<List<String>> members = new ArrayList<>();
        private final java.util.Set<String> exact = new java.util.HashSet<>();

        Pool(double threshold) {
            this.threshold = threshold;
        }

        /** The highest ROUGE-L of {@code text} against the pool (1 for a text already in it, word for word). */
        double maxSimilarity(String text) {
            if (exact.contains(normal(text))) {
                return 1.0;
            }
            List<String> t = tokens(text);
            double best = 0;
            for (List<String> m : members) {
                best = Math.max(best, f1(t, m));
                if (best >= threshold) {
                    break;
                }
            }
            return best;
        }

        /** Adds {@code text} if it is novel enough; returns whether it was added. */
        boolean offer(String text) {
            if (maxSimilarity(text) >= threshold) {
                return false;
            }
            add(text);
            return true;
        }

        /** Adds {@code text} unconditionally (seed instructions). */
        void add(String text) {
            members.add(tokens(text));
            exact.add(normal(text));
        }

        private static String normal(String text) {
            return text.strip().toLowerCase(Locale.ROOT);
        }

        int size() {
            return members.size();
        }
    }
}
