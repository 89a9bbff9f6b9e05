package org.distillery.teachers;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.data.Records;
import org.distillery.models.HfModelService;
import org.distillery.models.ModelConfigs;
import org.distillery.models.tokenizer.ByteTokenizer;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code teacher.local}'s precision: as stored by default, float16 on request, bfloat16 refused with the reason. */
class LocalTeacherTest {

    @TempDir
    Path dir;

    private static final HfModelService MODELS = new HfModelService();

    private static Path save(TestRunContext run, Path out, DataType stored) throws IOException {
        Map<String, Object> raw = new LinkedHashMap<>();
        raw.put("model_type", "llama");
        raw.put("vocab_size", 259);
        raw.put("hidden_size", 32);
        raw.put("intermediate_size", 64);
        raw.put("num_hidden_layers", 2);
        raw.put("num_attention_heads", 4);
        raw.put("num_key_value_heads", 2);
        raw.put("max_position_embeddings", 64);
        try (NDManager m = run.manager().newSubManager();
             LanguageModel lm = MODELS.create(ModelConfigs.fromMap(raw), 3, m)) {
            MODELS.save(lm, out, stored);
        }
        new ByteTokenizer().save(out);
        return out;
    }

    private static Config params(Path model, String dtype) {
        return params(model, dtype, "auto");
    }

    private static Config params(Path model, String dtype, String compute) {
        return ConfigFactory.parseMap(Map.of("model-dir", model.toString(), "dtype", dtype, "compute-dtype", compute));
    }

    private TeacherContext context(TestRunContext run) throws IOException {
        return run.teacherContext(dir.resolve("F32"), 32);
    }

    @Test
    void autoHoldsTheStoredPrecisionAndBfloat16AsFloat16() throws Exception {
        try (TestRunContext run = TestRunContext.builder().dir(dir.resolve("run")).build()) {
            for (DataType stored : new DataType[] {DataType.FLOAT32, DataType.FLOAT16, DataType.BFLOAT16}) {
                Path model = save(run, dir.resolve(stored.name().replace("FLOAT32", "F32")), stored);
                DataType expected = stored == DataType.FLOAT32 ? DataType.FLOAT32 : DataType.FLOAT16;
                try (LocalTeacher t = (LocalTeacher) new LocalTeacher.Factory().open(context(run), params(model, "auto"))) {
                    assertEquals(expected, t.dtype());
                    assertEquals(DataType.FLOAT32, t.computeType(), "on a CPU half weights compute in float32");
                    for (NDArray p : t.model().orElseThrow().parameters().values()) {
                        assertEquals(expected, p.getDataType(), "no float32 copy: every parameter is " + expected);
                    }
                }
                Map<String, Object> ev = run.events.get(run.events.size() - 1);
                assertEquals("teacher-precision", ev.get("type"));
                assertEquals(expected == DataType.FLOAT16 ? "float16" : "float32", ev.get("dtype"));
                assertEquals(HfModelService.torchName(stored), ev.get("stored"));
            }
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"float32", "float16"})
    void float16TeachersGiveFloat32LogitsAndHiddenStatesCloseToFloat32(String compute) throws Exception {
        try (TestRunContext run = TestRunContext.builder().dir(dir.resolve("run")).build()) {
            Path model = save(run, dir.resolve("F32"), DataType.FLOAT32);
            try (LocalTeacher full = (LocalTeacher) new LocalTeacher.Factory().open(context(run), params(model, "float32"));
                 LocalTeacher half = (LocalTeacher) new LocalTeacher.Factory().open(context(run),
                         params(model, "float16", compute));
                 NDManager m = run.manager().newSubManager()) {
                assertEquals(DataType.FLOAT16, half.dtype());
                assertEquals(compute.equals("float16") ? DataType.FLOAT16 : DataType.FLOAT32, half.computeType());
                for (NDArray p : half.model().orElseThrow().parameters().values()) {
                    assertEquals(DataType.FLOAT16, p.getDataType(), "resident in float16 whatever the compute");
                }
                ByteTokenizer tok = new ByteTokenizer();
                TokenBatch b = Records.batch(List.of(new Records.Encoded(tok.encode("what is 2 plus 2? 4"), 1),
                        new Records.Encoded(tok.encode("hi"), 1)), tok.padId(), m);
                TeacherOutput a = full.score(b, true, m);
                TeacherOutput h = half.score(b, true, m);
                assertEquals(DataType.FLOAT32, h.logits().getDataType());
                assertEquals(a.hiddenStates().size(), h.hiddenStates().size());
                for (int i = 0; i < h.hiddenStates().size(); i++) {
                    NDArray hs = h.hiddenStates().get(i);
                    assertEquals(DataType.FLOAT32, hs.getDataType(), "losses see float32 hidden states");
                    float diff = hs.sub(a.hiddenStates().get(i)).abs().max().getFloat();
                    assertTrue(diff < 0.05f, "hidden state " + i + " differs by " + diff);
                }
                float diff = h.logits().logSoftmax(-1).sub(a.logits().logSoftmax(-1)).abs().max().getFloat();
                assertTrue(diff < 0.05f, "log-probabilities differ by " + diff);
            }
        }
    }

    @Test
    void bfloat16AndUnknownPrecisionsAreRefusedNamingTheSetting() throws Exception {
        try (TestRunContext run = TestRunContext.builder().dir(dir.resolve("run")).build()) {
            save(run, dir.resolve("F32"), DataType.FLOAT32);
            Path model = save(run, dir.resolve("bf16"), DataType.BFLOAT16);
            InvalidConfigException e = assertThrows(InvalidConfigException.class,
                    () -> new LocalTeacher.Factory().open(context(run), params(model, "bfloat16")));
            assertEquals("teacher.params.dtype", e.path());
            assertTrue(e.getMessage().contains("float16 only") || e.getMessage().contains("float16 tensors only"),
                    e.getMessage());
            e = assertThrows(InvalidConfigException.class,
                    () -> new LocalTeacher.Factory().open(context(run), params(model, "int8")));
            assertEquals("teacher.params.dtype", e.path());
            assertTrue(e.getMessage().contains("auto, float32, float16, bfloat16"), e.getMessage());
            e = assertThrows(InvalidConfigException.class,
                    () -> new LocalTeacher.Factory().open(context(run), params(model, "auto", "bfloat16")));
            assertEquals("teacher.params.compute-dtype", e.path());
        }
    }
}
