package org.distillery.models;

import static org.junit.jupiter.api.Assertions.assertEquals;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

/** Shared helpers: array comparison. */
final class TestSupport {

    private TestSupport() {
    }

    static float maxAbsDiff(NDArray a, NDArray b) {
        assertEquals(a.getShape(), b.getShape(), "shapes differ");
        float[] x = a.toFloatArray();
        float[] y = b.toFloatArray();
        float m = 0;
        for (int i = 0; i < x.length; i++) {
            m = Math.max(m, Math.abs(x[i] - y[i]));
        }
        return m;
    }

    static NDArray ids(NDManager m, long[][] rows) {
        int b = rows.length;
        int t = rows[0].length;
        long[] flat = new long[b * t];
        for (int i = 0; i < b; i++) {
            System.arraycopy(rows[i], 0, flat, i * t, t);
        }
        return m.create(flat).reshape(b, t);
    }
}
