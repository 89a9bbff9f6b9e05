package org.distillery.kit.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.kit.config.Params;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Variant nodes as kd.compare reads them, and finding the model a stage handed on. */
class StagesTest {

    private static KdStage variant(String node, List<String> earlier) {
        return Stages.variant(Params.of(ConfigFactory.parseString(node), "method.params.variants[1]"), earlier);
    }

    @Test
    void aVariantBecomesATrainKdStage() {
        KdStage s = variant("name = gkd, init-from = sft, loss = [ { key = kd.jsd, weight = 2 } ], "
                + "train { steps = 5, sampler { key = gkd.on-policy } }, teacher { key = teacher.local }", List.of("sft"));
        assertEquals("gkd", s.name());
        assertEquals("sft", s.initFrom());
        assertEquals("kd.jsd", s.loss().get(0).key());
        assertEquals(2.0, s.loss().get(0).weight());
        assertEquals(5, s.train().getInt("steps"));
        assertEquals("gkd.on-policy", s.sampler().key());
        assertEquals("teacher.local", s.teacher().getString("key"));
        assertEquals("method.params.variants[1]", s.configPath());
    }

    @Test
    void badVariantsFailAtTheirPath() {
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> variant("name = x, loss = [], lr = 1", List.of()));
        assertTrue(e.getMessage().startsWith("method.params.variants[1].lr: unknown key"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> variant("name = sft, loss = []", List.of("sft")));
        assertTrue(e.getMessage().startsWith("method.params.variants[1].name: must be unique"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> variant("name = Big, loss = []", List.of()));
        assertTrue(e.getMessage().startsWith("method.params.variants[1].name"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> variant("name = x", List.of()));
        assertTrue(e.getMessage().startsWith("method.params.variants[1].loss: is missing"), e.getMessage());
        e = assertThrows(InvalidConfigException.class, () -> variant("name = x, loss = [], init-from = y",
                List.of("sft")));
        assertTrue(e.getMessage().startsWith("method.params.variants[1].init-from: names no earlier variant"),
                e.getMessage());
    }

    @Test
    void theModelOfAStageIsItsResultsModelElseBestElseFinal(@TempDir Path run) throws Exception {
        Path stage = Files.createDirectories(run.resolve("stages/sft"));
        assertThrows(IllegalStateException.class, () -> Stages.modelOf(run, "sft"));
        Files.createDirectories(stage.resolve("final"));
        Files.writeString(stage.resolve("final/config.json"), "{}");
        assertEquals(stage.resolve("final"), Stages.modelOf(run, "sft"));
        Files.createDirectories(stage.resolve("best"));
        Files.writeString(stage.resolve("best/config.json"), "{}");
        assertEquals(stage.resolve("best"), Stages.modelOf(run, "sft"));
        Files.writeString(stage.resolve("result.json"), "{\"model\": \"/somewhere/else\"}");
        assertEquals(Path.of("/somewhere/else"), Stages.modelOf(run, "sft"));
    }
}
