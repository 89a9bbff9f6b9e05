package org.distillery.models.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.model.LanguageModel;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Runs {@link TeacherPrecisionBench} on tiny models and checks the report; no timing is asserted. */
class TeacherPrecisionBenchTest {

    private static final Pattern ROW = Pattern.compile(
            "^  (.{32}) +([0-9,]+) +([0-9.]+)% +([0-9.]+) +([0-9.]+)x +([0-9.]+)% ", Pattern.MULTILINE);

    @Test
    void reportsHalfTheResidentBytesAndSmallErrors(@TempDir Path dir) throws Exception {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "gpt2");
        raw.put("vocab_size", 64);
        raw.put("n_embd", 32);
        raw.put("n_layer", 2);
        raw.put("n_head", 4);
        raw.put("n_positions", 32);
        HfModelService models = new HfModelService();
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        try (TestTensors tensors = new TestTensors();
             PrintStream out = new PrintStream(buf, true, StandardCharsets.UTF_8)) {
            try (NDManager m = tensors.newRunScope("save");
                 LanguageModel lm = models.create(ModelConfigs.fromMap(raw), 5, m)) {
                models.save(lm, dir.resolve("teacher"), DataType.FLOAT32);
            }
            ForwardBench.Options o = ForwardBench.Options.defaults().withShape(1, 8).withModel(32, 2, 4, 48, 64);
            TeacherPrecisionBench.run(out, tensors, dir.resolve("teacher"), new long[][] {{1, 2, 3, 4, 5, 6}}, o, 1);
        }
        String text = buf.toString(StandardCharsets.UTF_8);
        Matcher m = ROW.matcher(text);
        int rows = 0;
        while (m.find()) {
            rows++;
            double percent = Double.parseDouble(m.group(3));
            assertEquals(m.group(1).startsWith("float32") ? 100.0 : 50.0, percent, 0.05, m.group());
            assertTrue(Double.parseDouble(m.group(6)) >= 50, "top-1 agreement of a tiny model: " + m.group());
        }
        assertEquals(8, rows, "four ways to hold each of two teachers: " + text);
        assertTrue(text.contains("resident <= 55% of float32: 50.0% met"), text);
    }

    @Test
    void errorsAgainstTheReference() {
        float[] ref = {(float) Math.log(0.7), (float) Math.log(0.2), (float) Math.log(0.1)};
        assertArrayEquals(new double[] {1, 0, 0, 0, 0}, TeacherPrecisionBench.errors(ref, ref, 3), 1e-12);
        float[] flipped = {(float) Math.log(0.2), (float) Math.log(0.7), (float) Math.log(0.1)};
        double[] e = TeacherPrecisionBench.errors(ref, flipped, 3);
        assertEquals(0, e[0], "top-1 changed");
        double d = Math.log(0.7) - Math.log(0.2);
        assertEquals(0.7 * d + 0.2 * d, e[1], 1e-6, "p-weighted |delta log p|");
        assertEquals(d, e[2], 1e-6);
        assertEquals(d, e[3], 1e-6);
        assertEquals(0.7 * d - 0.2 * d, e[4], 1e-6, "KL(ref || other)");
    }
}
