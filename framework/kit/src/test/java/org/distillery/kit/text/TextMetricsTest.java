package org.distillery.kit.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/**
 * Golden values of the text metrics. The Rouge-L values and token lists were produced by the
 * {@code rouge_score} package's tokeniser and LCS scorer ({@code RougeScorer(["rougeL"],
 * use_stemmer=True)}) run with NLTK 3.8's {@code PorterStemmer}; the exact-match normalisations by
 * SQuAD v1.1's {@code normalize_answer}.
 */
class TextMetricsTest {

    private static final double EPS = 1e-12;

    @Test
    void rougeLMatchesRougeScoreWithTheStemmer() {
        assertEquals(0.6666666666666666, TextMetrics.rougeL("The cats are running quickly to the houses.",
                "a cat runs quickly to its house"), EPS);
        assertEquals(0.8, TextMetrics.rougeL("patipe is 65 years old and loves plums.",
                "a guard from teger, patipe is 65 years old and loves plums."), EPS);
        assertEquals(0.8571428571428571, TextMetrics.rougeL("Generalization: relational conditioning!",
                "generalizations of relations conditioned"), EPS);
        assertEquals(1.0, TextMetrics.rougeL("hopefulness, happiness; agreed & feed", "hopeful happy agree feeding"),
                EPS);
        // non-ASCII letters separate words: nothing in common
        assertEquals(0.0, TextMetrics.rougeL("café naïve résumé", "cafe naive resume"), EPS);
        assertEquals(0.0, TextMetrics.rougeL("", "anything"), EPS);
        assertEquals(1.0, TextMetrics.rougeL("It's 3.14, isn't it?", "it s 3 14 isn t it"), EPS);
        assertEquals(1.0, TextMetrics.rougeL("729", "729"), EPS);
    }

    @Test
    void rougeTokensAreRougeScoresTokens() {
        assertEquals(List.of("the", "cat", "are", "run", "quickli", "to", "the", "hous"),
                TextMetrics.rougeTokens("The cats are running quickly to the houses.", true));
        assertEquals(List.of("caf", "na", "ve", "r", "sum"), TextMetrics.rougeTokens("café naïve résumé", true));
        assertEquals(List.of("it", "s", "3", "14", "isn", "t", "it"), TextMetrics.rougeTokens("It's 3.14, isn't it?", true));
        // without the stemmer, only the separators change
        assertEquals(List.of("running", "houses"), TextMetrics.rougeTokens("Running, houses!", false));
    }

    @Test
    void rougeLOnTokensIsTheLcsFMeasure() {
        List<String> a = TextMetrics.words("the cat sat on the mat");
        List<String> b = TextMetrics.words("the cat is on the mat");
        assertEquals(5.0 / 6, TextMetrics.rougeL(a, b), EPS);
        assertEquals(2.0 / 3, TextMetrics.rougeL(List.of("a", "b", "c", "d"), List.of("a", "c")), EPS);
        assertEquals(4, TextMetrics.lcs(List.of("a", "b", "c", "b", "d", "a", "b"), List.of("b", "d", "c", "a", "b", "a")));
        // whitespace words keep punctuation
        assertEquals(0.0, TextMetrics.rougeL(TextMetrics.words("Paris."), TextMetrics.words("paris")), EPS);
    }

    @Test
    void exactMatchUsesSquadNormalisation() {
        assertEquals("cat sat on mat", TextMetrics.normaliseAnswer("  The Cat, sat on a mat! ", true));
        assertEquals("apple day", TextMetrics.normaliseAnswer("An apple a day.", true));
        assertEquals("theory of anthem", TextMetrics.normaliseAnswer("theory of the anthem", true));
        assertEquals("its 314 — «approx»", TextMetrics.normaliseAnswer("It's 3.14 — an «approx»", true));
        assertEquals("hello world", TextMetrics.normaliseAnswer("  Hello \t  World\n", true));
        assertEquals("am", TextMetrics.normaliseAnswer("a.m. the", true));
        assertEquals("théâtre lolympia", TextMetrics.normaliseAnswer("Théâtre L'Olympia", true));
        // MiniLLM's rouge_metric.py keeps the articles
        assertEquals("an apple a day", TextMetrics.normaliseAnswer("An apple a day.", false));
        assertEquals(1.0, TextMetrics.exactMatch("The answer: Paris.", "answer paris", true), EPS);
        assertEquals(0.0, TextMetrics.exactMatch("The answer: Paris.", "answer paris", false), EPS);
        assertEquals(0.0, TextMetrics.exactMatch("helloworld", "hello world", true), EPS);
    }

    @Test
    void distinctCountsNgramsWithinEachText() {
        assertEquals(2.0 / 3, TextMetrics.distinct(List.of("a b c d e", "A b c d"), 4), EPS);
        assertEquals(1.0 / 3, TextMetrics.distinct(List.of("x x x x x x"), 4), EPS);
        assertTrue(Double.isNaN(TextMetrics.distinct(List.of("a b", "c d"), 4)));
        assertEquals(1.0, TextMetrics.distinct(List.of("one two three four five", "six"), 4), EPS);
    }
}
