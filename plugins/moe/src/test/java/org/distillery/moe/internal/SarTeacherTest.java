package org.distillery.moe.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.typesafe.config.ConfigFactory;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.DataType;
import ai.djl.ndarray.types.Shape;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.TokenBatch;
import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.LanguageModel;
import org.distillery.api.teacher.TeacherOutput;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Student-Aware Router teacher: what its router step touches, what it returns, what it saves. */
class SarTeacherTest {

    private static SarTeacher open(MoeTestRun run, Path folder, String params) throws IOException {
        return (SarTeacher) new SarTeacher.Factory().open(run.teacherContext(), ConfigFactory.parseString("model-dir = \"" + folder
                + "\"\n" + params).withFallback(run.defaults(ContributionKind.TEACHER, SarTeacher.KEY)));
    }

    private static TokenBatch batch(NDManager m) {
        NDArray ids = m.create(new long[] {257, 72, 105, 33, 10, 50, 257, 9, 8, 7, 6, 0}, new Shape(2, 6));
        NDArray mask = m.create(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, new Shape(2, 6));
        NDArray targets = m.create(new long[] {72, 105, 33, 10, 50, 258, 9, 8, 7, 6, 258, 0}, new Shape(2, 6));
        NDArray loss = m.create(new float[] {0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0}, new Shape(2, 6));
        return new TokenBatch(ids, mask, targets, loss, m.zeros(new Shape(2), DataType.INT32));
    }

    private static Map<String, float[]> snapshot(LanguageModel model) {
        Map<String, float[]> out = new LinkedHashMap<>();
        model.parameters().forEach((k, v) -> out.put(k, v.toFloatArray()));
        return out;
    }

    @Test
    void routerStepChangesOnlyTheRouter(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            Path folder = dir.resolve("teacher");
            run.models().save(run.tinyMoe("mixtral", 31), folder, DataType.FLOAT32);
            LanguageModel student = run.tinyStudent(32);
            student.parameters().values().forEach(p -> p.setRequiresGradient(true));
            Engine.getInstance().setRandomSeed(1);
            try (SarTeacher sar = open(run, folder, "router-lr = 1e-2");
                 NDManager m = run.manager().newSubManager()) {
                assertThrows(IllegalStateException.class, () -> sar.score(batch(m), false, m));
                sar.attachStudent(student);
                LanguageModel teacher = sar.model().orElseThrow();
                Map<String, float[]> before = snapshot(teacher);
                Map<String, float[]> studentBefore = snapshot(student);
                TokenBatch b = batch(m);
                TeacherOutput out = sar.score(b, false, m);
                Map<String, float[]> after = snapshot(teacher);
                assertEquals(List.of("model.layers.0.block_sparse_moe.gate.weight",
                        "model.layers.1.block_sparse_moe.gate.weight"), List.copyOf(sar.routerParameters().keySet()));
                for (String name : before.keySet()) {
                    if (sar.routerParameters().containsKey(name)) {
                        assertFalse(java.util.Arrays.equals(before.get(name), after.get(name)), name + " was trained");
                    } else {
                        assertArrayEquals(before.get(name), after.get(name), 0f, name + " is bitwise unchanged");
                    }
                }
                studentBefore.forEach((k, v) -> assertArrayEquals(v, student.parameters().get(k).toFloatArray(), 0f, k));
                assertTrue(Double.isFinite(sar.lastRouterLoss()));
                // the returned logits are the updated teacher's, with every expert active
                NDArray dense = teacher.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask())
                        .withRouting(new DenseRouting())).logits();
                assertArrayEquals(dense.toFloatArray(), out.logits().toFloatArray(), 0f);
                NDArray sparse = teacher.forward(b.inputIds(), ForwardOptions.inference().withMask(b.attentionMask()))
                        .logits();
                assertTrue(sparse.sub(out.logits()).abs().max().getFloat() > 1e-6f, "not the top-2 routing");
                // the router loss falls over a few steps on the same batch
                double first = sar.lastRouterLoss();
                for (int i = 0; i < 5; i++) {
                    sar.score(b, false, m);
                }
                assertTrue(sar.lastRouterLoss() < first, first + " -> " + sar.lastRouterLoss());
            }
        }
    }

    @Test
    void routerAndOptimizerStateSurviveACheckpoint(@TempDir Path dir) throws Exception {
        try (MoeTestRun run = new MoeTestRun(dir, "")) {
            Path folder = dir.resolve("teacher");
            run.models().save(run.tinyMoe("mixtral", 33), folder, DataType.FLOAT32);
            LanguageModel student = run.tinyStudent(34);
            Path ckpt = dir.resolve("ckpt/teacher");
            Map<String, float[]> saved;
            Map<String, float[]> continued;
            try (SarTeacher sar = open(run, folder, "router-lr = 1e-2");
                 NDManager m = run.manager().newSubManager()) {
                sar.attachStudent(student);
                sar.score(batch(m), false, m);
                sar.score(batch(m), false, m);
                sar.saveState(ckpt);
                saved = snapshot(sar.model().orElseThrow());
                sar.score(batch(m), false, m);
                continued = snapshot(sar.model().orElseThrow());
            }
            assertTrue(Files.exists(ckpt.resolve("router.bin")));
            String usage = Files.readString(ckpt.resolve("router-usage.json"));
            assertTrue(usage.contains("\"before\"") && usage.contains("\"after\"") && usage.contains("\"router-steps\": 2"),
                    usage);
            assertEquals(2, run.events.stream().filter(e -> "moe.router-usage".equals(e.get("type"))).count());
            // a fresh teacher restored from the checkpoint has the saved router and takes the same next step
            try (SarTeacher resumed = open(run, folder, "router-lr = 1e-2");
                 NDManager m = run.manager().newSubManager()) {
                resumed.attachStudent(student);
                resumed.restoreState(ckpt);
                Map<String, float[]> restored = snapshot(resumed.model().orElseThrow());
                saved.forEach((k, v) -> assertArrayEquals(v, restored.get(k), 0f, k));
                resumed.score(batch(m), false, m);
                Map<String, float[]> next = snapshot(resumed.model().orElseThrow());
                continued.forEach((k, v) -> assertArrayEquals(v, next.get(k), 1e-7f, k));
            }
            InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> open(run, folder, "router-lr = 0"));
            assertEquals("teacher.params.router-lr", e.path());
            e = assertThrows(InvalidConfigException.class, () -> open(run, dir.resolve("nothing"), ""));
            assertEquals("teacher.params.model-dir", e.path());
        }
    }
}
