package org.distillery.kit.text;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import org.junit.jupiter.api.Test;

/** Golden values computed by hand (the working is in each comment). */
class TextMetricsTest {

    private static final double EPS = 1e-12;

    @Test
    void rougeLIsTheLcsFMeasure() {
        // 6 vs 6 words, LCS "the cat on the mat" = 5: P = R = 5/6, F = 5/6
        assertEquals(5.0 / 6, TextMetrics.rougeL("the cat sat on the mat", "the cat is on the mat", false), EPS);
        // LCS "a c" = 2: P = 2/4, R = 2/2, F = 2 * 0.5 * 1 / 1.5 = 2/3
        assertEquals(2.0 / 3, TextMetrics.rougeL("a b c d", "a c", false), EPS);
        // LCS "b c" (or "a c"...) = 2 of 3 and 3: F = 2/3
        assertEquals(2.0 / 3, TextMetrics.rougeL("a b c", "b a c", false), EPS);
        // lowercased, whitespace runs ignored
        assertEquals(1.0, TextMetrics.rougeL("The  Cat\n", "the cat", false), EPS);
        assertEquals(0.0, TextMetrics.rougeL("", "the cat", false), EPS);
        assertEquals(0.0, TextMetrics.rougeL("dog", "the cat", false), EPS);
        // punctuation: a different token unless stripped
        assertEquals(0.0, TextMetrics.rougeL("Paris.", "paris", false), EPS);
        assertEquals(1.0, TextMetrics.rougeL("Paris.", "paris", true), EPS);
        assertEquals(4, TextMetrics.lcs(List.of("a", "b", "c", "b", "d", "a", "b"), List.of("b", "d", "c", "a", "b", "a")));
    }

    @Test
    void exactMatchNormalisesCaseAndSpaces() {
        assertEquals(1.0, TextMetrics.exactMatch("  Hello \t  World\n", "hello world"), EPS);
        assertEquals(0.0, TextMetrics.exactMatch("hello world.", "hello world"), EPS);
        assertEquals(0.0, TextMetrics.exactMatch("helloworld", "hello world"), EPS);
        assertEquals("a b c", TextMetrics.normalise(" A\n\nb   C "));
    }

    @Test
    void distinctFourCountsWithinResponsesPooledOverAll() {
        // "a b c d e": (a b c d), (b c d e); "A b c d": (a b c d) again -> 2 distinct of 3
        assertEquals(2.0 / 3, TextMetrics.distinct(List.of("a b c d e", "A b c d"), 4), EPS);
        // "x x x x x x": 3 four-grams, all "x x x x" -> 1/3
        assertEquals(1.0 / 3, TextMetrics.distinct(List.of("x x x x x x"), 4), EPS);
        // n-grams never cross responses: none here
        assertTrue(Double.isNaN(TextMetrics.distinct(List.of("a b", "c d"), 4)));
        assertEquals(1.0, TextMetrics.distinct(List.of("one two three four five", "six"), 4), EPS);
    }
}
