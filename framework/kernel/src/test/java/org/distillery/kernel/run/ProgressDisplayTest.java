package org.distillery.kernel.run;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

import org.junit.jupiter.api.Test;

class ProgressDisplayTest {

    private static final long SECOND = 1_000_000_000L;

    @Test
    void etaCountsTheCurrentStageOnly() {
        AtomicLong now = new AtomicLong();
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        ProgressDisplay d = new ProgressDisplay(new PrintStream(bytes, true, StandardCharsets.UTF_8),
                ProgressDisplay.Mode.LINES, 1, now::get);
        d.accept(Map.of("type", "stage-started", "stage", "a"));
        for (int step = 1; step <= 10; step++) {
            now.addAndGet(SECOND);
            d.accept(Map.of("type", "step", "step", step, "of", 10, "loss", 1.0, "tokens-per-s", 1.0));
        }
        now.addAndGet(100 * SECOND); // evaluation between stages
        d.accept(Map.of("type", "stage-started", "stage", "b"));
        now.addAndGet(2 * SECOND);
        d.accept(Map.of("type", "step", "step", 1, "of", 10, "loss", 1.0, "tokens-per-s", 1.0));
        String out = bytes.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("step 10/10  loss 1.0000  1 tok/s  eta 0:00"), out);
        // 2 s per step in stage b, 9 steps left
        assertTrue(out.contains("step 1/10  loss 1.0000  1 tok/s  eta 0:18"), out);
    }
}
