package org.distillery.kit.text;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Text formulas: the {@code rouge_score} tokeniser, longest common subsequence, ROUGE-L, exact
 * match with SQuAD's answer normalisation, distinct n-grams. The evaluation metrics compute their
 * figures with them, and a bundle that judges text (e.g. a data stage that keeps an answer when it
 * matches the reference) uses them to judge it the same way.
 */
public final class TextMetrics {

    private static final Pattern NON_ALPHANUMERIC = Pattern.compile("[^a-z0-9]+");
    private static final Pattern VALID_TOKEN = Pattern.compile("[a-z0-9]+");
    private static final Pattern WHITESPACE = Pattern.compile("\\s+", Pattern.UNICODE_CHARACTER_CLASS);
    private static final Pattern ARTICLES = Pattern.compile("\\b(a|an|the)\\b", Pattern.UNICODE_CHARACTER_CLASS);
    /** Python's {@code string.punctuation}: the ASCII punctuation SQuAD's normalisation removes. */
    private static final String PUNCTUATION = "!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~";

    private TextMetrics() {
    }

    /**
     * Tokens as {@code rouge_score}'s default tokeniser makes them (the package MiniLLM and the MoE-KD
     * reference code score Rouge-L with): lowercase, every run of characters other than
     * {@code a-z} and {@code 0-9} becomes a space (so non-ASCII letters separate words), split on
     * whitespace, tokens longer than three characters Porter-stemmed ({@link PorterStemmer}, NLTK's
     * default mode) when {@code stem}, empty tokens dropped.
     */
    public static List<String> rougeTokens(String text, boolean stem) {
        List<String> out = new ArrayList<>();
        if (text == null) {
            return out;
        }
        String t = NON_ALPHANUMERIC.matcher(text.toLowerCase(Locale.ROOT)).replaceAll(" ");
        for (String s : t.split(" ")) {
            String token = stem && s.length() > 3 ? PorterStemmer.stem(s) : s;
            if (VALID_TOKEN.matcher(token).matches()) {
                out.add(token);
            }
        }
        return out;
    }

    /** Lowercased whitespace-separated words (punctuation kept as part of words). */
    public static List<String> words(String text) {
        List<String> out = new ArrayList<>();
        if (text == null) {
            return out;
        }
        for (String s : WHITESPACE.split(text.toLowerCase(Locale.ROOT).trim())) {
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
     * ROUGE-L F-measure (beta = 1) of one tokenised prediction against one tokenised reference:
     * with {@code P = lcs / |prediction|} and {@code R = lcs / |reference|}, {@code F = 2PR / (P + R)};
     * 0 when either side has no tokens or nothing in common (as {@code rouge_score}).
     */
    public static double rougeL(List<String> prediction, List<String> reference) {
        int l = lcs(prediction, reference);
        if (l == 0) {
            return 0;
        }
        double precision = (double) l / prediction.size();
        double recall = (double) l / reference.size();
        return 2 * precision * recall / (precision + recall);
    }

    /**
     * ROUGE-L F-measure as MiniLLM computes it: {@code rouge_score.RougeScorer(["rougeL"],
     * use_stemmer=True)}, i.e. {@link #rougeTokens} with the stemmer on both sides.
     */
    public static double rougeL(String prediction, String reference) {
        return rougeL(rougeTokens(prediction, true), rougeTokens(reference, true));
    }

    /**
     * SQuAD's answer normalisation: lowercase, remove ASCII punctuation ({@code string.punctuation}),
     * remove the articles a, an, the (as whole words) when {@code removeArticles}, and collapse
     * whitespace to single spaces without leading or trailing ones.
     */
    public static String normaliseAnswer(String text, boolean removeArticles) {
        if (text == null) {
            return "";
        }
        String lower = text.toLowerCase(Locale.ROOT);
        StringBuilder sb = new StringBuilder(lower.length());
        lower.codePoints().forEach(c -> {
            if (c >= 128 || PUNCTUATION.indexOf(c) < 0) {
                sb.appendCodePoint(c);
            }
        });
        String t = removeArticles ? ARTICLES.matcher(sb).replaceAll(" ") : sb.toString();
        return String.join(" ", words(t));
    }

    /** 1 if the {@link #normaliseAnswer normalised} texts are equal, else 0. */
    public static double exactMatch(String prediction, String reference, boolean removeArticles) {
        return normaliseAnswer(prediction, removeArticles).equals(normaliseAnswer(reference, removeArticles)) ? 1 : 0;
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
            List<String> w = words(t);
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
