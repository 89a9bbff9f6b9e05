package org.distillery.eval;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunComparisonTest {

    private static Path run(Path root, String dir, String name, long seed, double valLoss, double rouge)
            throws Exception {
        Path d = Files.createDirectories(root.resolve(dir));
        Files.writeString(d.resolve("config.conf"), "experiment { name = \"" + name + "\", seed = " + seed + " }\n");
        Files.writeString(d.resolve("results.json"), "{\"distill\": {\"steps\": 10, \"model\": \"x\", \"metrics\": "
                + "{\"train.loss\": 1.5, \"val.loss\": " + valLoss + "}, \"stopped\": false}, "
                // the eval.report stage's result repeats every model's figures under its name: not a row
                + "\"evaluate\": {\"steps\": 0, \"metrics\": {\"distill.rouge-l\": " + rouge
                + ", \"teacher.rouge-l\": 0.9}, \"stopped\": false}}");
        Files.createDirectories(d.resolve("eval"));
        Files.writeString(d.resolve("eval/distill.json"), "{\"model\": \"distill\", \"metrics\": {\"rouge-l\": " + rouge
                + ", \"exaccerr@16\": 2.0, \"exaccerr@8\": 1.0}}");
        Files.writeString(d.resolve("eval/teacher.json"), "{\"metrics\": {\"rouge-l\": 0.9, \"ece\": NaN}}");
        return d;
    }

    @Test
    void groupsSeedsAndAggregatesMeanAndSampleStd(@TempDir Path root) throws Exception {
        run(root, "kd-fkl-seed1-20250101-000000", "kd-fkl-seed1", 1, 1.0, 0.2);
        run(root, "kd-fkl-seed2-20250101-000001", "kd-fkl-seed2", 2, 2.0, 0.4);
        run(root, "kd-fkl-20250101-000002", "kd-fkl", 3, 3.0, 0.6);
        run(root, "sft-20250101-000003", "sft", 1, 5.0, 0.1);
        List<RunComparison.RunRecord> runs = new ArrayList<>();
        for (Path d : RunComparison.runDirs(List.of(root))) {
            runs.add(RunComparison.read(d));
        }
        assertEquals(4, runs.size());
        RunComparison.Table t = RunComparison.compare(runs, List.of());
        assertEquals(List.of("kd-fkl/distill", "kd-fkl/teacher", "sft/distill", "sft/teacher"), t.rows());
        // rouge-l 0.2, 0.4, 0.6: mean 0.4, sample std sqrt(((-.2)^2 + 0 + .2^2) / 2) = 0.2
        RunComparison.Cell rouge = t.cells().get("kd-fkl/distill").get("rouge-l");
        assertEquals(0.4, rouge.mean(), 1e-12);
        assertEquals(0.2, rouge.std(), 1e-12);
        assertEquals(3, rouge.n());
        // val.loss 1, 2, 3 from results.json merged into the same row: mean 2, std 1
        RunComparison.Cell val = t.cells().get("kd-fkl/distill").get("val.loss");
        assertEquals(2.0, val.mean(), 1e-12);
        assertEquals(1.0, val.std(), 1e-12);
        assertEquals(List.of(1L, 2L, 3L), t.seeds().get("kd-fkl/distill"));
        // one seed: std 0, n 1
        RunComparison.Cell sft = t.cells().get("sft/distill").get("rouge-l");
        assertEquals(new RunComparison.Cell(0.1, 0.0, 1), sft);
        // NaN values are left out: no finite value at all
        assertEquals(0, t.cells().get("kd-fkl/teacher").get("ece").n());
        // preferred columns first, then by name with lengths in numeric order
        assertEquals("rouge-l", t.columns().get(0));
        assertTrue(t.columns().indexOf("exaccerr@8") < t.columns().indexOf("exaccerr@16"), t.columns().toString());
        String text = RunComparison.render(t);
        assertTrue(text.contains("0.4000 ± 0.2000 (3)"), text);
        assertTrue(RunComparison.toJson(t).contains("\"kd-fkl/distill\""));
        RunComparison.Table only = RunComparison.compare(runs, List.of("exaccerr*"));
        assertEquals(List.of("exaccerr@8", "exaccerr@16"), only.columns());
        assertTrue(RunComparison.compare(runs, List.of("*")).columns().containsAll(List.of("train.loss", "ece")));
    }

    @Test
    void groupNameDropsTheSeedSuffixOnly() {
        assertEquals("quickstart", RunComparison.groupName("quickstart-seed7", 7));
        assertEquals("quickstart", RunComparison.groupName("quickstart_s7", 7));
        assertEquals("quickstart", RunComparison.groupName("quickstart-7", 7));
        assertEquals("quickstart", RunComparison.groupName("quickstart", 7));
        assertEquals("exp-17", RunComparison.groupName("exp-17", 7));
        assertEquals("7", RunComparison.groupName("7", 7));
    }

    @Test
    void aggregateOfTwoValues() {
        // 1 and 4: mean 2.5, sample std sqrt((1.5^2 * 2) / 1) = 2.1213...
        RunComparison.Cell c = RunComparison.aggregate(List.of(1.0, 4.0, Double.NaN));
        assertEquals(2.5, c.mean(), 1e-12);
        assertEquals(Math.sqrt(4.5), c.std(), 1e-12);
        assertEquals(2, c.n());
    }
}
