package org.distillery.multimodal.internal;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;

import org.distillery.api.data.Example;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.loss.Loss;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.model.Tokenizer;
import org.distillery.api.model.VisionInput;
import org.distillery.kit.data.Records;
import org.distillery.testkit.FusedParity;
import org.distillery.testkit.TestRunContext;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Golden tests of the fused output layer through a LLaVA student and a LLaVA teacher: on a batch of
 * two image records and one text-only record, every parameter's gradient (tower, projector and
 * language model) and the value are those of the unfused path, for the LLaVA-KD losses and the
 * kd-core losses they are trained with. Tolerances as kd-core's golden tests: values within
 * 1e-5·max(1, |v|), each gradient entry within 1e-4 of its array's largest entry.
 */
class FusedOutputLayerTest {

    private static TestRun run;
    private static LanguageModel student;
    private static LanguageModel teacher;
    private static NDManager data;
    private static TokenBatch batch;

    @BeforeAll
    static void setUp() throws IOException {
        Path dir = Files.createTempDirectory("multimodal-fused");
        run = new TestRun(dir.resolve("run"), TestRunContext.experiment(""));
        run.writeModel(dir.resolve("student"), TestRun.TINY_LLAVA, 1);
        run.writeModel(dir.resolve("teacher"), TestRun.TINY_LLAVA, 2);
        student = run.models().load(dir.resolve("student"), DataType.FLOAT32, run.manager());
        teacher = run.models().load(dir.resolve("teacher"), DataType.FLOAT32, run.manager());
        Path suite = TestRun.writeSuite(dir.resolve("suite"), 2);
        Tokenizer tok = run.models().tokenizer(dir.resolve("student"));
        VisionInput vision = student.vision().orElseThrow();
        List<Example> images = run.data().readJsonl(suite.resolve("captions.jsonl"));
        data = run.manager().newSubManager();
        batch = Records.batch(List.of(Records.encode(images.get(0), tok, 64, vision),
                Records.encode(Example.pair("t", "what is 2 plus 2?", "4", Map.of()), tok, 64, vision),
                Records.encode(images.get(1), tok, 64, vision)), tok.padId(), data, vision);
        assertTrue(batch.pixelValues() != null, "the batch carries images");
    }

    @AfterAll
    static void tearDown() {
        data.close();
        student.close();
        teacher.close();
        run.close();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"mm.response-kl", "mm.response-kl|divergence = kd.reverse-kl", "mm.visual-kl",
        "mm.visual-kl|normalize = response-tokens", "kd.sft", "kd.forward-kl|chunk-size = 5", "kd.jsd|beta = 0.5"})
    void fusedEqualsUnfusedThroughALlavaStudentAndTeacher(String spec) {
        String[] parts = spec.split("\\|");
        Loss loss = run.loss(parts[0], parts.length > 1 ? parts[1] : "");
        FusedParity.TeacherSide side = FusedParity.modelTeacher(teacher);
        FusedParity.Result unfused = FusedParity.throughModel(loss, student, batch, side, false, run.manager());
        FusedParity.Result fused = FusedParity.throughModel(loss, student, batch, side, true, run.manager());
        assertTrue(unfused.gradients().keySet().stream().anyMatch(k -> k.contains("vision_tower")),
                "the tower's gradients are compared");
        FusedParity.assertEqual(unfused, fused, 1e-5, 1e-4, spec);
    }
}
