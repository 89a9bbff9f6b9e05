package org.distillery.surgery.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import ai.djl.ndarray.NDManager;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.data.Example;
import org.distillery.api.merge.MergeResult;
import org.distillery.api.model.LanguageModel;
import org.distillery.eval.Evaluator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * LM-Cocktail's weights are softmax(−L/τ) of the losses each candidate reports ({@code eval.lm-loss} on the
 * target examples, evaluated here independently), mixed with the fine-tuned model at α, and the merge is
 * the linear merge with those weights.
 */
class CocktailTest {

    @TempDir
    static Path dir;
    private static SurgeryTestRun run;
    private static List<Path> models;
    private static Path examples;

    @BeforeAll
    static void models() throws Exception {
        run = new SurgeryTestRun(Files.createDirectories(dir.resolve("run")));
        models = new ArrayList<>();
        for (int seed = 1; seed <= 3; seed++) {
            models.add(run.model(dir.resolve("m" + seed), SurgeryTestRun.config("qwen2", 2), 20 + seed));
        }
        examples = dir.resolve("examples.jsonl");
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            String task = i % 2 == 0 ? "arith" : "fact";
            sb.append("{\"id\": \"e").append(i).append("\", \"prompt\": \"what is ").append(i).append(" + ").append(i)
                    .append("?\", \"response\": \"").append(2 * i).append("\", \"meta\": {\"task\": \"").append(task)
                    .append("\"}}\n");
        }
        Files.writeString(examples, sb);
    }

    @AfterAll
    static void close() {
        run.close();
    }

    /** The lm-loss {@code eval.lm-loss} reports for the model in {@code dir} on the arith examples (at most 3). */
    private static double reportedLoss(Path model) throws Exception {
        List<Example> arith = run.data().readJsonl(examples).stream()
                .filter(e -> "arith".equals(e.meta().get("task"))).limit(3).toList();
        try (NDManager m = run.manager().newSubManager(); LanguageModel lm = run.load(model, m)) {
            return new Evaluator(run, 8, 8).evaluate(lm, null, run.models().tokenizer(model), arith,
                    List.of(Evaluator.MetricSpec.of("eval.lm-loss"))).figures().get("lm-loss");
        }
    }

    @Test
    void weightsAreTheSoftmaxOfTheNegativeLossesMixedWithTheTarget() throws Exception {
        Path out = dir.resolve("cocktail");
        MergeResult r = run.merge(CocktailMerger.KEY, "examples = \"" + examples + "\", examples-tasks = [arith], "
                + "examples-limit = 3, temperature = 2.0, alpha = 0.6", models, out);
        double l1 = reportedLoss(models.get(1));
        double l2 = reportedLoss(models.get(2));
        double e1 = Math.exp(-l1 / 2.0);
        double e2 = Math.exp(-l2 / 2.0);
        List<Double> expected = List.of(0.6, 0.4 * e1 / (e1 + e2), 0.4 * e2 / (e1 + e2));
        for (int i = 0; i < 3; i++) {
            assertEquals(expected.get(i), r.weights().get(i), 1e-9, "weight of model " + i);
        }
        @SuppressWarnings("unchecked")
        Map<String, Double> losses = (Map<String, Double>) r.details().get("losses");
        assertEquals(l1, losses.get(models.get(1).toString()), 1e-12);
        assertEquals(3, r.details().get("examples"));
        List<Map<String, float[]>> in = new ArrayList<>();
        for (Path p : models) {
            in.add(run.floats(p));
        }
        Map<String, float[]> merged = run.floats(out);
        for (String name : merged.keySet()) {
            for (int i = 0; i < merged.get(name).length; i += 7) {
                double v = 0;
                for (int k = 0; k < 3; k++) {
                    v += r.weights().get(k) * in.get(k).get(name)[i];
                }
                assertEquals(v, merged.get(name)[i], 1e-6 + 1e-6 * Math.abs(v), name);
            }
        }
    }

    @Test
    void withTheTargetAsACandidateAndAlphaZeroItIsTheDataWeightedMix() throws Exception {
        MergeResult r = run.merge(CocktailMerger.KEY, "examples = \"" + examples + "\", examples-tasks = [arith], "
                + "examples-limit = 3, alpha = 0, include-target = true", models, dir.resolve("all"));
        double[] l = {reportedLoss(models.get(0)), reportedLoss(models.get(1)), reportedLoss(models.get(2))};
        double[] w = CocktailMerger.softmaxOfNegative(l, 5.0);
        double z = Math.exp(-l[0] / 5) + Math.exp(-l[1] / 5) + Math.exp(-l[2] / 5);
        for (int i = 0; i < 3; i++) {
            assertEquals(Math.exp(-l[i] / 5) / z, w[i], 1e-12, "the default temperature is 5");
            assertEquals(w[i], r.weights().get(i), 1e-9);
        }
    }

    @Test
    void theTargetExamplesAreRequired() {
        InvalidConfigException none = assertThrows(InvalidConfigException.class,
                () -> run.merge(CocktailMerger.KEY, "", models, dir.resolve("none")));
        assertEquals("merger.params.examples", none.path());
        InvalidConfigException noTask = assertThrows(InvalidConfigException.class, () -> run.merge(CocktailMerger.KEY,
                "examples = \"" + examples + "\", examples-tasks = [yesno]", models, dir.resolve("none")));
        assertTrue(noTask.getMessage().contains("yesno"), noTask.getMessage());
        assertTrue(Files.notExists(dir.resolve("none")));
    }
}
