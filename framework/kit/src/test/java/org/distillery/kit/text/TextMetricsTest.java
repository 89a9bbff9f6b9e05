package org.distillery.eval;

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

    @Test
    void eceOverTenEqualWidthBins() {
        // bins: .95 -> 9 (acc 1), .85 -> 8 (acc 0), .75 -> 7 (acc 1), .55 and .52 -> 5 (acc .5, conf .535)
        // ECE = 1/5 (.05 + .85 + .25) + 2/5 * .035 = .23 + .014 = .244
        double[] conf = {0.95, 0.85, 0.75, 0.55, 0.52};
        boolean[] right = {true, false, true, true, false};
        assertEquals(0.244, Calibration.ece(conf, right, 10), 1e-12);
        // one bin holding everything: acc = 3/5, conf = 3.62/5 = .724, |.6 - .724| = .124
        assertEquals(0.124, Calibration.ece(conf, right, 1), 1e-12);
        // perfectly calibrated
        assertEquals(0.0, Calibration.ece(new double[] {0.5, 0.5}, new boolean[] {true, false}, 10), EPS);
        // confidence 1 falls into the last bin
        assertEquals(9, Calibration.bin(1.0, 10));
        assertEquals(0.0, Calibration.ece(new double[] {1.0}, new boolean[] {true}, 10), EPS);
        assertTrue(Double.isNaN(Calibration.ece(new double[0], new boolean[0], 10)));
    }

    @Test
    void exAccErrFormulaOnSyntheticPerPositionKl() {
        double[] student = {1, 2, 3};
        double[] teacher = {1, 1, 1};
        // l = 2: R = 1 + 2 = 3, l*eps = 2, eps = 1 -> (3 - 2) / 2 * 100 = 50
        assertArray(new double[] {50, 3, 1}, ExAccErrMetric.formula(student, teacher, 2));
        // l = 3: R = 6, l*eps = 3 -> 100
        assertArray(new double[] {100, 6, 1}, ExAccErrMetric.formula(student, teacher, 3));
        // l = 5: positions nobody reached add 0: R = 6, l*eps = 3, eps = 3/5 -> 100
        assertArray(new double[] {100, 6, 0.6}, ExAccErrMetric.formula(student, teacher, 5));
        // no excess when student prefixes are no worse than teacher prefixes
        assertArray(new double[] {-50, 0.5, 0.5}, ExAccErrMetric.formula(new double[] {0.25, 0.25},
                new double[] {0.5, 0.5}, 2));
    }

    private static void assertArray(double[] expected, double[] actual) {
        assertEquals(expected.length, actual.length);
        for (int i = 0; i < expected.length; i++) {
            assertEquals(expected[i], actual[i], 1e-12, "index " + i);
        }
    }

    @Test
    void labelProbabilitiesAreRenormalised() {
        double[] p = EceMetric.normalised(new double[] {Math.log(0.3), Math.log(0.1)});
        assertEquals(0.75, p[0], 1e-12);
        assertEquals(0.25, p[1], 1e-12);
    }
}
