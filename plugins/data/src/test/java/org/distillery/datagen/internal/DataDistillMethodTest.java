package org.distillery.datagen.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The data.distill method's stages and its checks of every generator parameter, by config path. */
class DataDistillMethodTest {

    @TempDir
    Path tmp;

    private final Config reference = DataModule.reference();
    private final DataDistillMethod method = new DataDistillMethod(DataModule.generators(), reference);

    private List<Stage> stages(String params) {
        return method.stages(ConfigFactory.parseString(params)
                .withFallback(reference.getConfig("distillery.methods.\"data.distill\"")).resolve());
    }

    private String seeds() throws Exception {
        Path f = tmp.resolve("seeds.jsonl");
        Files.writeString(f, "{\"prompt\": \"how old is faran?\", \"response\": \"32\"}\n");
        return f.toString();
    }

    private String valid() throws Exception {
        return "datasets = [ { name = targeted, generator { key = data.targeted, params { seed-file = \"" + seeds()
                + "\" } } },\n { name = filtered, generator { key = data.quality-filter, params { input = \"stage:targeted\" } } } ]\n"
                + "students = [ { name = student, data = filtered, loss = [ { key = kd.sft } ], train { steps = 5 } },"
                + " { name = baseline, loss = [ { key = kd.sft } ] } ]";
    }

    @Test
    void stagesGenerateThenTrainThenEvaluate() throws Exception {
        List<Stage> s = stages(valid());
        assertEquals(List.of("targeted", "filtered", "student", "baseline", "evaluate"),
                s.stream().map(Stage::name).toList());
        assertEquals(List.of("data.generate", "data.generate", "train.kd", "train.kd", "eval.report"),
                s.stream().map(Stage::trainer).toList());
        assertEquals("method.params.datasets[1].generator", ((StageSpec) s.get(1)).params().getString("config-path"));
        KdStage student = (KdStage) s.get(2);
        assertEquals("stage:filtered", student.sampler().params().getString("file"));
        assertEquals("data.dataset", student.sampler().key());
        assertEquals(5, student.train().getInt("steps"));
        assertTrue(!((KdStage) s.get(3)).sampler().params().hasPath("file"), "data = \"\" keeps data.train-file");
        assertEquals(List.of("student", "baseline"), ((StageSpec) s.get(4)).params().getStringList("students"));
    }

    private void assertPath(String expectedPath, String params) {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> stages(params));
        assertEquals(expectedPath, e.path(), e.getMessage());
    }

    @Test
    void badParametersNameTheirPath() throws Exception {
        String seeds = seeds();
        String student = "students = [ { name = s, loss = [ { key = kd.sft } ] } ]\n";
        String gen = "datasets = [ { name = t, generator { key = data.targeted, params { seed-file = \"" + seeds + "\", ";
        assertPath("method.params.datasets[0].generator.params.filters.rouge-threshold",
                student + gen + "filters { rouge-threshold = 1.5 } } } } ]");
        assertPath("method.params.datasets[0].generator.params.temprature",
                student + gen + "temprature = 0.5 } } } ]");
        assertPath("method.params.datasets[0].generator.params.endpoint.base-url",
                student + gen + "endpoint { base-url = \"ftp://example.com\" } } } } ]");
        assertPath("method.params.datasets[0].generator.params.endpoint.api",
                student + gen + "endpoint { api = grpc } } } } ]");
        assertPath("method.params.datasets[0].generator.params.reasoning",
                student + gen + "reasoning = sometimes } } } ]");
        assertPath("method.params.datasets[0].generator.params.instructions",
                student + gen + "instructions = -3 } } } ]");
        assertPath("method.params.datasets[0].generator.params.seed-file",
                student + "datasets = [ { name = t, generator { key = data.targeted, params { seed-file = \"/no/such.jsonl\" } } } ]");
        assertPath("method.params.datasets[0].generator.params.instruction-template",
                student + gen + "instruction-template = \"no placeholder\" } } } ]");
        assertPath("method.params.datasets[0].generator.params.input",
                student + "datasets = [ { name = q, generator { key = data.quality-filter, params { input = \"stage:later\" } } } ]");
        assertPath("method.params.datasets[0].generator.params.scorer",
                student + "datasets = [ { name = q, generator { key = data.quality-filter, params { input = \"" + seeds
                        + "\", scorer = vibes } } } ]");
        assertPath("method.params.datasets[0].generator.params.model-dir",
                student + "datasets = [ { name = c, generator { key = data.coreset, params { input = \"" + seeds
                        + "\" } } } ]");
        assertPath("method.params.datasets[0].generator.params.topics",
                student + "datasets = [ { name = c, generator { key = data.topics, params { topics = [] } } } ]");
        assertPath("method.params.datasets[0].generator.params.max-turns",
                student + "datasets = [ { name = c, generator { key = data.topics, params { min-turns = 3, max-turns = 2 } } } ]");
        assertPath("method.params.students[0].data",
                "students = [ { name = s, data = nowhere, loss = [ { key = kd.sft } ] } ]");
        assertPath("method.params.students", "students = []");
        assertPath("method.params.datasets[1].name", student + gen + "} } },"
                + " { name = t, generator { key = data.targeted, params { seed-file = \"" + seeds + "\" } } } ]");
    }

    @Test
    void coresetSizeAndFractionAreExclusive() throws Exception {
        Path model = tmp.resolve("m");
        Files.createDirectories(model);
        Files.writeString(model.resolve("config.json"), "{}");
        assertPath("method.params.datasets[0].generator.params.size",
                "students = [ { name = s, loss = [ { key = kd.sft } ] } ]\n"
                        + "datasets = [ { name = c, generator { key = data.coreset, params { input = \"" + seeds()
                        + "\", model-dir = \"" + model + "\", size = 10, fraction = 0.5 } } } ]");
    }
}
