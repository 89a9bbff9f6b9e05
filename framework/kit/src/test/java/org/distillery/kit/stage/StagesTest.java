package org.distillery.kit.stage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.run.RunContext;
import org.distillery.api.train.KdStage;
import org.distillery.kit.config.Params;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Training variants written like kd.compare's, and the model an earlier stage handed on. */
class StagesTest {

    private static Params params(String hocon) {
        return Params.of(ConfigFactory.parseString(hocon), "method.params");
    }

    @Test
    void variantsBecomeKdStages() {
        List<KdStage> stages = Stages.variants(params("""
                variants = [
                  { name = sft, loss = [ { key = kd.sft } ], train { steps = 30, sampler { key = data.dataset, params { tasks = [arith] } } } }
                  { name = kd, init-from = pruned, loss = [ { key = kd.forward-kl, weight = 0.5 } ], teacher { key = x } }
                  { name = again, init-from = sft, loss = [ { key = kd.sft } ], student { config { n_layer = 1 } } }
                ]"""), "variants", List.of("pruned"), Set.of("evaluate"));
        assertEquals(List.of("sft", "kd", "again"), stages.stream().map(KdStage::name).toList());
        assertEquals(30, stages.get(0).train().getInt("steps"));
        assertEquals(List.of("arith"), stages.get(0).sampler().params().getStringList("tasks"));
        assertEquals("method.params.variants[0]", stages.get(0).configPath());
        assertEquals("pruned", stages.get(1).initFrom());
        assertEquals(0.5, stages.get(1).loss().get(0).weight());
        assertEquals("x", stages.get(1).teacher().getString("key"));
        assertEquals("sft", stages.get(2).initFrom());
        assertEquals(1, stages.get(2).student().getInt("config.n_layer"));
    }

    @Test
    void badVariantsNameTheirPath() {
        InvalidConfigException from = assertThrows(InvalidConfigException.class, () -> Stages.variants(params(
                "variants = [ { name = a, init-from = b, loss = [ { key = kd.sft } ] } ]"), "variants", List.of("p"),
                Set.of()));
        assertEquals("method.params.variants[0].init-from", from.path());
        assertTrue(from.getMessage().contains("accepted: p"), from.getMessage());
        InvalidConfigException taken = assertThrows(InvalidConfigException.class, () -> Stages.variants(params(
                "variants = [ { name = evaluate, loss = [ { key = kd.sft } ] } ]"), "variants", List.of(),
                Set.of("evaluate")));
        assertEquals("method.params.variants[0].name", taken.path());
        InvalidConfigException unknown = assertThrows(InvalidConfigException.class, () -> Stages.variants(params(
                "variants = [ { name = a, loss = [], epochs = 3 } ]"), "variants", List.of(), Set.of()));
        assertEquals("method.params.variants[0].epochs", unknown.path());
        InvalidConfigException noLoss = assertThrows(InvalidConfigException.class, () -> Stages.variants(params(
                "variants = [ { name = a } ]"), "variants", List.of(), Set.of()));
        assertEquals("method.params.variants[0].loss", noLoss.path());
    }

    @Test
    void theModelAStageHandedOn(@TempDir Path run) throws Exception {
        RunContext context = (RunContext) Proxy.newProxyInstance(RunContext.class.getClassLoader(),
                new Class<?>[] {RunContext.class}, (proxy, method, args) -> {
                    if (method.getName().equals("runDir")) {
                        return run;
                    }
                    throw new UnsupportedOperationException(method.getName());
                });
        Path stage = Files.createDirectories(run.resolve("stages/sft"));
        Files.createDirectories(stage.resolve("final"));
        Files.writeString(stage.resolve("final/config.json"), "{}");
        assertEquals(stage.resolve("final"), Stages.model(context, "sft"), "a stopped stage: its final folder");
        Files.writeString(stage.resolve("result.json"), "{\"model\": \"/models/best\"}");
        assertEquals(Path.of("/models/best"), Stages.model(context, "sft"), "the model its result names");
        IllegalStateException none = assertThrows(IllegalStateException.class, () -> Stages.model(context, "eval"));
        assertTrue(none.getMessage().contains("left no model"), none.getMessage());
    }
}
