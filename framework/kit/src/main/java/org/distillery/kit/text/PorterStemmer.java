package org.distillery.kit.text;

import java.util.Map;

/**
 * The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980) with
 * the extensions of NLTK's default mode ({@code PorterStemmer.NLTK_EXTENSIONS}), which is what the
 * {@code rouge_score} package uses when {@code use_stemmer=True}, and therefore what MiniLLM's and
 * the MoE-KD reference code's Rouge-L measure.
 *
 * <p>Beyond the published algorithm (and Porter's own later changes, which NLTK's mode includes):
 * a table of irregular forms ({@code skies → sky}, {@code dying → die}, ...); words of one or two
 * letters are left alone; {@code -ies}/{@code -ied} of four-letter words keep their {@code e}
 * ({@code dies → die}); step 1c turns a final {@code y} into {@code i} only after a consonant that is
 * not the first letter; {@code -alli} is reduced before the other step-2 rules and re-run;
 * {@code -bli → -ble}, {@code -fulli → -ful} and {@code -logi → -log} (with the {@code l} counted in
 * the stem's measure); the {@code *o} condition also holds for a two-letter vowel-consonant stem.
 * Input is expected in lower case (the Rouge tokeniser lowercases first).
 */
public final class PorterStemmer {

    private static final Map<String, String> IRREGULAR = Map.ofEntries(
            Map.entry("skies", "sky"), Map.entry("sky", "sky"), Map.entry("dying", "die"), Map.entry("lying", "lie"),
            Map.entry("tying", "tie"), Map.entry("news", "news"), Map.entry("innings", "inning"),
            Map.entry("inning", "inning"), Map.entry("outings", "outing"), Map.entry("outing", "outing"),
            Map.entry("cannings", "canning"), Map.entry("canning", "canning"), Map.entry("howe", "howe"),
            Map.entry("proceed", "proceed"), Map.entry("exceed", "exceed"), Map.entry("succeed", "succeed"));

    private PorterStemmer() {
    }

    /** The stem of a lower-case word. */
    public static String stem(String word) {
        String irregular = IRREGULAR.get(word);
        if (irregular != null) {
            return irregular;
        }
        if (word.length() <= 2) {
            return word;
        }
        String w = step1a(word);
        w = step1b(w);
        w = step1c(w);
        w = step2(w);
        w = step3(w);
        w = step4(w);
        w = step5a(w);
        return step5b(w);
    }

    // ------------------------------------------------------------------ the word's shape

    private static boolean isConsonant(CharSequence w, int i) {
        char c = w.charAt(i);
        if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') {
            return false;
        }
        if (c == 'y') {
            return i == 0 || !isConsonant(w, i - 1);
        }
        return true;
    }

    /** m: the number of vowel-consonant transitions, i.e. of VC in [C](VC){m}[V]. */
    static int measure(CharSequence stem) {
        int m = 0;
        for (int i = 1; i < stem.length(); i++) {
            if (!isConsonant(stem, i - 1) && isConsonant(stem, i)) {
                m++;
            }
        }
        return m;
    }

    private static boolean containsVowel(CharSequence stem) {
        for (int i = 0; i < stem.length(); i++) {
            if (!isConsonant(stem, i)) {
                return true;
            }
        }
        return false;
    }

    /** *d: ends with a double consonant. */
    private static boolean endsDoubleConsonant(String w) {
        int n = w.length();
        return n >= 2 && w.charAt(n - 1) == w.charAt(n - 2) && isConsonant(w, n - 1);
    }

    /** *o: ends consonant-vowel-consonant, the last not w, x or y; or is a vowel then a consonant. */
    private static boolean endsCvc(String w) {
        int n = w.length();
        if (n >= 3 && isConsonant(w, n - 3) && !isConsonant(w, n - 2) && isConsonant(w, n - 1)) {
            char last = w.charAt(n - 1);
            return last != 'w' && last != 'x' && last != 'y';
        }
        return n == 2 && !isConsonant(w, 0) && isConsonant(w, 1);
    }

    private static String cut(String w, String suffix) {
        return w.substring(0, w.length() - suffix.length());
    }

    /** A condition on the stem left when a rule's suffix is removed. */
    private interface Condition {
        boolean holds(String stem);
    }

    private static final Condition M_GT_0 = s -> measure(s) > 0;
    private static final Condition M_GT_1 = s -> measure(s) > 1;

    /**
     * Applies the first rule whose suffix the word ends with: if its condition holds on the stem the
     * suffix is replaced, otherwise the word is returned unchanged (later rules are not tried).
     * Rules are {suffix, replacement} pairs with one condition for all.
     */
    private static String firstRule(String w, Condition condition, String... rules) {
        for (int i = 0; i < rules.length; i += 2) {
            if (w.endsWith(rules[i])) {
                String stem = cut(w, rules[i]);
                return condition.holds(stem) ? stem + rules[i + 1] : w;
            }
        }
        return w;
    }

    // ------------------------------------------------------------------ the steps

    private static String step1a(String w) {
        if (w.endsWith("ies") && w.length() == 4) {
            return cut(w, "ies") + "ie";
        }
        if (w.endsWith("sses")) {
            return cut(w, "sses") + "ss";
        }
        if (w.endsWith("ies")) {
            return cut(w, "ies") + "i";
        }
        if (w.endsWith("ss")) {
            return w;
        }
        if (w.endsWith("s")) {
            return cut(w, "s");
        }
        return w;
    }

    private static String step1b(String w) {
        if (w.endsWith("ied")) {
            return cut(w, "ied") + (w.length() == 4 ? "ie" : "i");
        }
        if (w.endsWith("eed")) {
            String stem = cut(w, "eed");
            return measure(stem) > 0 ? stem + "ee" : w;
        }
        String stem = null;
        for (String suffix : new String[] {"ed", "ing"}) {
            if (w.endsWith(suffix) && containsVowel(cut(w, suffix))) {
                stem = cut(w, suffix);
                break;
            }
        }
        if (stem == null) {
            return w;
        }
        if (stem.endsWith("at") || stem.endsWith("bl") || stem.endsWith("iz")) {
            return stem + "e";
        }
        if (endsDoubleConsonant(stem)) {
            char last = stem.charAt(stem.length() - 1);
            return last == 'l' || last == 's' || last == 'z' ? stem : stem.substring(0, stem.length() - 1);
        }
        if (measure(stem) == 1 && endsCvc(stem)) {
            return stem + "e";
        }
        return stem;
    }

    private static String step1c(String w) {
        if (w.endsWith("y")) {
            String stem = cut(w, "y");
            return stem.length() > 1 && isConsonant(stem, stem.length() - 1) ? stem + "i" : w;
        }
        return w;
    }

    private static String step2(String w) {
        if (w.endsWith("alli") && measure(cut(w, "alli")) > 0) {
            return step2(cut(w, "alli") + "al");
        }
        String[] rules = {"ational", "ate", "tional", "tion", "enci", "ence", "anci", "ance", "izer", "ize",
            "bli", "ble", "alli", "al", "entli", "ent", "eli", "e", "ousli", "ous", "ization", "ize", "ation", "ate",
            "ator", "ate", "alism", "al", "iveness", "ive", "fulness", "ful", "ousness", "ous", "aliti", "al",
            "iviti", "ive", "biliti", "ble", "fulli", "ful"};
        for (int i = 0; i < rules.length; i += 2) {
            if (w.endsWith(rules[i])) {
                String stem = cut(w, rules[i]);
                return measure(stem) > 0 ? stem + rules[i + 1] : w;
            }
        }
        if (w.endsWith("logi")) {
            // the l of -logi stays with the stem when measuring, so geo-/theo- reduce like philo-
            return measure(cut(w, "ogi")) > 0 ? cut(w, "logi") + "log" : w;
        }
        return w;
    }

    private static String step3(String w) {
        return firstRule(w, M_GT_0, "icate", "ic", "ative", "", "alize", "al", "iciti", "ic", "ical", "ic",
                "ful", "", "ness", "");
    }

    private static String step4(String w) {
        String[] suffixes = {"al", "ance", "ence", "er", "ic", "able", "ible", "ant", "ement", "ment", "ent", "ion",
            "ou", "ism", "ate", "iti", "ous", "ive", "ize"};
        for (String suffix : suffixes) {
            if (w.endsWith(suffix)) {
                String stem = cut(w, suffix);
                boolean ok = measure(stem) > 1;
                if (suffix.equals("ion")) {
                    ok &= !stem.isEmpty() && (stem.endsWith("s") || stem.endsWith("t"));
                }
                return ok ? stem : w;
            }
        }
        return w;
    }

    private static String step5a(String w) {
        if (w.endsWith("e")) {
            String stem = cut(w, "e");
            int m = measure(stem);
            if (m > 1 || (m == 1 && !endsCvc(stem))) {
                return stem;
            }
        }
        return w;
    }

    private static String step5b(String w) {
        if (w.endsWith("ll") && measure(cut(w, "l")) > 1) {
            return cut(w, "l");
        }
        return w;
    }
}
