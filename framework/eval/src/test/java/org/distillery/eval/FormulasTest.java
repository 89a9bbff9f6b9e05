package org.distillery.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * Golden values of the calibration and label formulas, computed by hand (the working is in each comment);
 * ExAccErr's formula is checked against LMOps in {@link ExAccErrMetricTest}.
 */
class FormulasTest {

    private static final double EPS = 1e-12;

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
    void labelProbabilitiesAreRenormalised() {
        double[] p = EceMetric.normalised(new double[] {Math.log(0.3), Math.log(0.1)});
        assertEquals(0.75, p[0], 1e-12);
        assertEquals(0.25, p[1], 1e-12);
    }
}
