package org.distillery.minillm.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;

import org.distillery.api.model.ForwardOptions;
import org.distillery.api.model.GenerationOptions;
import org.distillery.api.model.GenerationResult;
import org.distillery.api.model.Generator;
import org.distillery.api.model.LanguageModel;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Teacher-mixed sampling through {@link Generator#generateMixed} with {@link MixedHook}: α = 0
 * draws exactly the student's tokens, α = 1 exactly the teacher's (same seed), and α = 0.5
 * draws the first token with the frequencies of 0.5·p + 0.5·q.
 */
class MixedSamplingTest {

    private static TestRun run;
    private static NDManager manager;
    private static LanguageModel student;
    private static LanguageModel teacher;
    private static Generator generator;

    @BeforeAll
    static void setUp() throws Exception {
        run = TestRun.bare();
        manager = run.manager().newSubManager();
        Path dir = Files.createTempDirectory("mixed");
        student = run.tinyModel(dir.resolve("student"), 1, manager);
        teacher = run.tinyModel(dir.resolve("teacher"), 2, manager);
        // random initialisation gives near-uniform next-token distributions; a large final-norm gain
        // makes both peaked and different, so that sampling from one or the other is distinguishable
        student.parameters().get("transformer.ln_f.weight").muli(40);
        teacher.parameters().get("transformer.ln_f.weight").muli(40);
        generator = run.models().generator();
    }

    @AfterAll
    static void tearDown() {
        manager.close();
        run.close();
    }

    private static List<int[]> prompts(int n) {
        List<int[]> p = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            p.add(new int[] {257, 'a' + i % 5, 'b'});
        }
        return p;
    }

    @Test
    void alphaZeroIsStudentSamplingAndAlphaOneIsTeacherSampling() {
        List<int[]> prompts = prompts(6);
        for (long seed : new long[] {3, 11}) {
            GenerationOptions o = GenerationOptions.sampling(10, seed);
            try (NDManager m = manager.newSubManager()) {
                GenerationResult fromStudent = generator.generate(student, prompts, o, m);
                GenerationResult fromTeacher = generator.generate(teacher, prompts, o, m);
                GenerationResult mixed0 = generator.generateMixed(student, teacher, new MixedHook(0.0), prompts, o, m);
                GenerationResult mixed1 = generator.generateMixed(student, teacher, new MixedHook(1.0), prompts, o, m);
                boolean differ = false;
                for (int i = 0; i < prompts.size(); i++) {
                    assertArrayEquals(fromStudent.tokens().get(i), mixed0.tokens().get(i), "alpha 0, row " + i);
                    assertArrayEquals(fromTeacher.tokens().get(i), mixed1.tokens().get(i), "alpha 1, row " + i);
                    assertArrayEquals(fromStudent.logProbs().get(i), mixed0.logProbs().get(i), 1e-4f);
                    differ |= !java.util.Arrays.equals(fromStudent.tokens().get(i), fromTeacher.tokens().get(i));
                }
                assertTrue(differ, "student and teacher must sample differently for the test to discriminate");
            }
        }
    }

    @Test
    void firstTokenFrequenciesFollowTheMixture() {
        double alpha = 0.5;
        int rows = 500;
        int draws = 0;
        int[] prompt = {257, 'q', '?'};
        List<int[]> prompts = Collections.nCopies(rows, prompt);
        double[] expected;
        double[] student;
        double[] teacherP;
        try (NDManager m = manager.newSubManager()) {
            NDArray ids = m.create(new long[] {257, 'q', '?'}).reshape(1, 3);
            student = lastDistribution(MixedSamplingTest.student, ids, m);
            teacherP = lastDistribution(teacher, ids, m);
        }
        int v = student.length;
        expected = new double[v];
        for (int i = 0; i < v; i++) {
            expected[i] = alpha * teacherP[i] + (1 - alpha) * student[i];
        }
        double[] counts = new double[v];
        for (long seed = 0; seed < 4; seed++) {
            try (NDManager m = manager.newSubManager()) {
                GenerationResult r = generator.generateMixed(MixedSamplingTest.student, teacher, new MixedHook(alpha),
                        prompts, GenerationOptions.sampling(1, seed), m);
                for (int[] t : r.tokens()) {
                    counts[t[0]]++;
                    draws++;
                }
            }
        }
        double tvMixture = 0;
        double tvStudent = 0;
        double tvTeacher = 0;
        for (int i = 0; i < v; i++) {
            double f = counts[i] / draws;
            tvMixture += Math.abs(f - expected[i]) / 2;
            tvStudent += Math.abs(f - student[i]) / 2;
            tvTeacher += Math.abs(f - teacherP[i]) / 2;
            double sd = Math.sqrt(expected[i] * (1 - expected[i]) / draws);
            assertTrue(Math.abs(f - expected[i]) <= 5 * sd + 1e-3, "token " + i + ": frequency " + f + ", p~ " + expected[i]);
        }
        assertTrue(tvMixture < 0.08, "total variation to the mixture " + tvMixture);
        assertTrue(tvStudent > tvMixture + 0.05 && tvTeacher > tvMixture + 0.05,
                "the mixture is distinguishable from either model: " + tvStudent + ", " + tvTeacher + " vs " + tvMixture);
    }

    private static double[] lastDistribution(LanguageModel model, NDArray ids, NDManager m) {
        NDArray logits = model.forward(ids, ForwardOptions.inference()).logits();
        logits.attach(m);
        float[] p = logits.get(":, -1, :").softmax(-1).toFloatArray();
        double[] out = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = p[i];
        }
        return out;
    }

    @Test
    void hookCutsALargerTeacherVocabularyToTheStudents() {
        try (NDManager m = manager.newSubManager()) {
            NDArray s = m.create(new float[] {0, 0, 0, 0}).reshape(1, 4);
            NDArray t = m.create(new float[] {0, 0, 0, 0, 50}).reshape(1, 5);
            float[] d = new MixedHook(0.2).distribution(0, s, t).toFloatArray();
            assertEquals(4, d.length);
            assertArrayEquals(new float[] {0.25f, 0.25f, 0.25f, 0.25f}, d, 1e-6f);
        }
    }
}
