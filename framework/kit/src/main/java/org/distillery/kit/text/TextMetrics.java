package org.distillery.kit.text;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * Text formulas: tokenisation, longest common subsequence, ROUGE-L, exact match, distinct n-grams. The
 * evaluation metrics compute their figures with them, and a bundle that judges text (e.g. a data stage
 * that keeps an answer when it matches the reference) uses them to judge it the same way.
 */
public final class TextMetrics {

    private TextMetrics() {
    }

    /**
     * Lowercased whitespace tokens. With {@code stripPunctuation}, every character that is not a
     * letter or digit is first replaced by a space (as the {@code rouge_score} tokenizer does).
     */
    public static List<String> tokens(String text, boolean stripPunctuation) {
        if (text == null) {
            return List.of();
        }
        String t = text.toLowerCase(Locale.ROOT);
        if (stripPunctuation) {
            StringBuilder sb = new StringBuilder(t.length());
            t.codePoints().forEach(c -> sb.appendCodePoint(Character.isLetterOrDigit(c) ? c : ' '));
            t = sb.toString();
        }
        List<String> out = new ArrayList<>();
        for (String s : t.trim().split("\\s+")) {
            if (!s.isEmpty()) {
                out.add(s);
            }
        }
        return out;
    }

    /** Length of the longest common subsequence of two token lists. */
    public static int lcs(List<String> a, List<String> b) {
        if (a.isEmpty() || b.isEmpty()) {
            return 0;
        }
        int[] prev = new int[b.size() + 1];
        int[] cur = new int[b.size() + 1];
        for (int i = 1; i <= a.size(); i++) {
            String x = a.get(i - 1);
            for (int j = 1; j <= b.size(); j++) {
                cur[j] = x.equals(b.get(j - 1)) ? prev[j - 1] + 1 : Math.max(prev[j], cur[j - 1]);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.size()];
    }

    /**
     * ROUGE-L F-measure (beta = 1) of one prediction against one reference: with
     * {@code P = lcs / |prediction|} and {@code R = lcs / |reference|}, {@code F = 2PR / (P + R)};
     * 0 when either side has no tokens or nothing in common (as {@code rouge_score}).
     */
    public static double rougeL(String prediction, String reference, boolean stripPunctuation) {
        List<String> p = tokens(prediction, stripPunctuation);
        List<String> r = tokens(reference, stripPunctuation);
        int l = lcs(p, r);
        if (l == 0) {
            return 0;
        }
        double precision = (double) l / p.size();
        double recall = (double) l / r.size();
        return 2 * precision * recall / (precision + recall);
    }

    /** Trimmed, lowercased, runs of whitespace collapsed to one space. */
    public static String normalise(String text) {
        return text == null ? "" : text.trim().toLowerCase(Locale.ROOT).replaceAll("\\s+", " ");
    }

    /** 1 if the normalised texts are equal, else 0. */
    public static double exactMatch(String prediction, String reference) {
        return normalise(prediction).equals(normalise(reference)) ? 1 : 0;
    }

    /**
     * Distinct and total word n-grams over {@code texts}: n-grams are taken within each text
     * (never across two), pooled over all of them, on lowercased whitespace tokens.
     *
     * @return {distinct, total}
     */
    public static long[] ngramCounts(List<String> texts, int n) {
        Set<List<String>> seen = new HashSet<>();
        long total = 0;
        for (String t : texts) {
            List<String> w = tokens(t, false);
            for (int i = 0; i + n <= w.size(); i++) {
                seen.add(List.copyOf(w.subList(i, i + n)));
                total++;
            }
        }
        return new long[] {seen.size(), total};
    }

    /** Distinct n-grams ÷ total n-grams over {@code texts}; NaN when there are none. */
    public static double distinct(List<String> texts, int n) {
        long[] c = ngramCounts(texts, n);
        return c[1] == 0 ? Double.NaN : (double) c[0] / c[1];
    }
}
