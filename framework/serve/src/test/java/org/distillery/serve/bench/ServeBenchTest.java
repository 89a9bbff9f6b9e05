package org.distillery.serve.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import ai.djl.ndarray.NDManager;

import org.junit.jupiter.api.Test;

import org.distillery.api.model.LanguageModel;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.serve.ServeOptions;
import org.distillery.serve.TestModels;

/** {@code distill bench serve} runs end to end on a tiny model and prints its figures (no timing is asserted). */
class ServeBenchTest {

    @Test
    void bothPartsRunAndPrintTheirFigures() throws Exception {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (NDManager m = NDManager.newBaseManager(); LanguageModel lm = TestModels.model(m, 3);
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            ServeBench.run(out, lm, new ByteTokenizer(), m, new ServeBench.Options(new int[] {1, 3}, 2, 4,
                    Duration.ofMillis(2), 4, ServeOptions.Scheduling.WINDOW));
            MixedLoad.run(out, lm, new ByteTokenizer(), m, new MixedLoad.Options(6, 2, 3, Duration.ofMillis(2), 5));
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("window scheduler"), text);
        assertTrue(text.contains("throughput ratio 3 clients / 1 clients"), text);
        long tokens = MixedLoad.calls(new MixedLoad.Options(6, 2, 3, Duration.ZERO, 5), 64).stream()
                .flatMap(List::stream).mapToLong(MixedLoad.Call::maxTokens).sum();
        for (String s : new String[] {"window", "continuous"}) {
            Matcher row = Pattern.compile("\\n  " + s + " +12 +(\\d+) ").matcher(text);
            assertTrue(row.find(), s + " row missing:\n" + text);
            assertEquals(tokens, Long.parseLong(row.group(1)), "every request produced its budget: " + text);
        }
        assertTrue(Pattern.compile("continuous / window at 6 clients: throughput \\d+\\.\\d\\dx \\(goal >= 1\\.5x: "
                + "(met|NOT met)\\), p50 latency \\d+\\.\\d\\dx, p95 latency \\d+\\.\\d\\dx").matcher(text).find(), text);
    }

    @Test
    void theRequestListIsMixedAndFitsTheContext() {
        List<List<MixedLoad.Call>> calls = MixedLoad.calls(MixedLoad.Options.defaults(), 256);
        assertEquals(64, calls.size());
        long longOnes = calls.stream().flatMap(List::stream).filter(c -> c.maxTokens() >= 64).count();
        long all = calls.stream().mapToLong(List::size).sum();
        assertEquals(256, all);
        assertTrue(longOnes > all / 8 && longOnes < all / 2, "about one in four is long: " + longOnes);
        for (List<MixedLoad.Call> mine : calls) {
            for (MixedLoad.Call c : mine) {
                assertTrue(c.prompt().length() >= 8 && c.prompt().length() <= 96, c.prompt());
                assertTrue(c.prompt().length() + 1 + c.maxTokens() <= 256, c.toString());
            }
        }
        assertEquals(calls, MixedLoad.calls(MixedLoad.Options.defaults(), 256), "the list is the same every time");
    }
}
