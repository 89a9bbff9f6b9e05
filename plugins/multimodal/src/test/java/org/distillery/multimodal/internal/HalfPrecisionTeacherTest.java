package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.ContributionKind;
import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.VisionInput;
import org.distillery.api.teacher.Teacher;
import org.distillery.api.teacher.TeacherContext;
import org.distillery.api.teacher.TeacherFactory;
import org.distillery.api.teacher.TeacherOutput;
import org.distillery.kit.data.Records;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A LLaVA teacher held in float16 ({@code teacher.local}, {@code dtype = float16}): every parameter
 * of the tower, projector and language model resident in float16, and its scores of a batch mixing
 * an image record and a text-only record close to the same teacher held in float32.
 */
class HalfPrecisionTeacherTest {

    @TempDir
    Path dir;

    private static Config params(Path model, String dtype) {
        return ConfigFactory.parseMap(Map.of("model-dir", model.toString(), "dtype", dtype, "compute-dtype", "auto"));
    }

    @Test
    void aFloat16LlavaTeacherScoresImageBatchesAsItsFloat32Self() throws Exception {
        try (TestRun run = new TestRun(dir.resolve("run"), TestRunContext.experiment(""))) {
            Path model = dir.resolve("llava");
            run.writeModel(model, TestRun.TINY_LLAVA, 5);
            Path suite = TestRun.writeSuite(dir.resolve("suite"), 2);
            TeacherFactory factory = run.factory(ContributionKind.TEACHER, "teacher.local", TeacherFactory.class);
            TeacherContext ctx = run.teacherContext(model, 64);
            try (Teacher full = factory.open(ctx, params(model, "float32"));
                 Teacher half = factory.open(ctx, params(model, "float16"));
                 NDManager m = run.manager().newSubManager()) {
                LanguageModel held = half.model().orElseThrow();
                for (Map.Entry<String, NDArray> p : held.parameters().entrySet()) {
                    assertEquals(DataType.FLOAT16, p.getValue().getDataType(), p.getKey() + " resident in float16");
                }
                VisionInput vision = held.vision().orElseThrow();
                Tokenizer tok = run.models().tokenizer(model);
                Example image = run.data().readJsonl(suite.resolve("qa.jsonl")).get(0);
                Example text = Example.pair("t0", "what is 2 plus 2?", "4", Map.of());
                TokenBatch b = Records.batch(List.of(Records.encode(image, tok, 64, vision),
                        Records.encode(text, tok, 64, vision)), tok.padId(), m, vision);

                TeacherOutput a = full.score(b, false, m);
                TeacherOutput h = half.score(b, false, m);
                assertEquals(DataType.FLOAT32, h.logits().getDataType(), "losses see float32 logits");
                NDArray mask = b.attentionMask().expandDims(-1);
                NDArray la = a.logits().logSoftmax(-1).mul(mask);
                NDArray lh = h.logits().logSoftmax(-1).mul(mask);
                float diff = lh.sub(la).abs().max().getFloat();
                assertTrue(diff < 0.05f, "log-probabilities differ by " + diff);
                long[] topA = la.argMax(-1).toLongArray();
                long[] topH = lh.argMax(-1).toLongArray();
                float[] att = b.attentionMask().toFloatArray();
                for (int i = 0; i < att.length; i++) {
                    if (att[i] > 0) {
                        assertEquals(topA[i], topH[i], "top-1 at position " + i);
                    }
                }
            }
        }
    }
}
