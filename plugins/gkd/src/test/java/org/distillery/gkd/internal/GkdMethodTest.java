package org.distillery.gkd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;

import com.google.inject.Guice;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.KdStage;
import org.distillery.api.train.LossSpec;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.Stage;
import org.distillery.api.train.StageSpec;
import org.junit.jupiter.api.Test;

/** The {@code gkd.recipe} method's stages, from its defaults and with overrides, and its range checks. */
class GkdMethodTest {

    private static Config params(String hocon) {
        Config ref = ConfigFactory.parseResources(GkdMethod.class.getClassLoader(), "reference.conf");
        return ConfigFactory.parseString(hocon).withFallback(ref.getConfig("distillery.methods.\"gkd.recipe\""));
    }

    private static List<Stage> stages(String hocon) {
        return new GkdMethod().stages(params(hocon));
    }

    @Test
    void defaultsGiveSftThenGkdThenEvaluate() {
        List<Stage> s = stages("");
        assertEquals(List.of("sft", "gkd", "evaluate"), s.stream().map(Stage::name).toList());
        assertEquals(List.of("train.kd", "train.kd", "eval.report"), s.stream().map(Stage::trainer).toList());
        KdStage sft = (KdStage) s.get(0);
        assertEquals(300, sft.train().getLong("steps"));
        assertEquals("kd.sft", sft.loss().get(0).key());
        assertEquals("data.dataset", sft.sampler().key());
        assertFalse(sft.train().hasPath("lr"), "0 keeps the train block's lr");
        KdStage gkd = (KdStage) s.get(1);
        assertEquals("sft", gkd.initFrom());
        assertFalse(gkd.train().hasPath("steps"));
        assertEquals("gkd.on-policy", gkd.sampler().key());
        assertEquals(0.5, gkd.sampler().params().getDouble("lambda"));
        assertEquals(0.9, gkd.sampler().params().getDouble("temperature"));
        assertEquals(128, gkd.sampler().params().getInt("max-new-tokens"));
        LossSpec loss = gkd.loss().get(0);
        assertEquals("kd.jsd", loss.key());
        assertEquals(0.5, loss.params().getDouble("beta"));
        StageSpec eval = (StageSpec) s.get(2);
        assertEquals(List.of("sft", "gkd"), eval.params().getStringList("students"));
        assertEquals("test", eval.params().getString("split"));
    }

    @Test
    void overridesAndTheOfflineBaseline() {
        List<Stage> s = stages("sft-steps = 0, steps = 40, lr = 1e-4, offline-baseline = true, "
                + "sampler { lambda = 1.0, seq-kd = true }, loss = [ { key = kd.reverse-kl } ]");
        assertEquals(List.of("gkd", "offline", "evaluate"), s.stream().map(Stage::name).toList());
        KdStage gkd = (KdStage) s.get(0);
        assertNull(gkd.initFrom(), "no sft stage to start from: the experiment's init-from-stage");
        assertEquals(40, gkd.train().getLong("steps"));
        assertEquals(1e-4, gkd.train().getDouble("lr"));
        assertEquals(1.0, gkd.sampler().params().getDouble("lambda"));
        assertEquals("kd.reverse-kl", gkd.loss().get(0).key());
        KdStage offline = (KdStage) s.get(1);
        assertEquals("data.dataset", offline.sampler().key());
        assertEquals(40, offline.train().getLong("steps"));
        assertEquals("kd.reverse-kl", offline.loss().get(0).key());
        assertEquals(List.of("gkd", "offline"), ((StageSpec) s.get(2)).params().getStringList("students"));
    }

    @Test
    void badValuesFailWhenTheExperimentIsValidated() {
        assertEquals("method.params.sampler.lambda",
                assertThrows(InvalidConfigException.class, () -> stages("sampler.lambda = 2")).path());
        assertEquals("method.params.sampler.top-p",
                assertThrows(InvalidConfigException.class, () -> stages("sampler.top-p = 1.5")).path());
        assertEquals("method.params.sft-steps",
                assertThrows(InvalidConfigException.class, () -> stages("sft-steps = -1")).path());
        assertEquals("method.params.lr",
                assertThrows(InvalidConfigException.class, () -> stages("lr = -0.1")).path());
        assertEquals("method.params.loss",
                assertThrows(InvalidConfigException.class, () -> stages("loss = []")).path());
    }

    @Test
    void moduleBindsTheMethod() {
        Map<String, MethodFactory> bound = Guice.createInjector(new GkdModule())
                .getInstance(Key.get(new TypeLiteral<Map<String, MethodFactory>>() { }));
        assertEquals(List.of("gkd.recipe"), List.copyOf(bound.keySet()));
    }
}
