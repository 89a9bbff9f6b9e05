package org.distillery.gkd.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;

import com.google.inject.Guice;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.InvalidConfigException;
import org.distillery.api.train.MethodFactory;
import org.distillery.api.train.StageSpec;
import org.junit.jupiter.api.Test;

/** The {@code gkd.recipe} method's stages, from its defaults and with overrides, and its range checks. */
class GkdMethodTest {

    private static Config params(String hocon) {
        Config ref = ConfigFactory.parseResources(GkdMethod.class.getClassLoader(), "reference.conf");
        return ConfigFactory.parseString(hocon).withFallback(ref.getConfig("distillery.methods.\"gkd.recipe\""));
    }

    private static List<StageSpec> stages(String hocon) {
        return new GkdMethod().stages(params(hocon));
    }

    @Test
    void defaultsGiveSftThenGkdThenEvaluate() {
        List<StageSpec> s = stages("");
        assertEquals(List.of("sft", "gkd", "evaluate"), s.stream().map(StageSpec::name).toList());
        assertEquals(List.of("train.kd", "train.kd", "eval.report"), s.stream().map(StageSpec::trainer).toList());
        Config sft = s.get(0).params();
        assertEquals(300, sft.getLong("steps"));
        assertEquals("kd.sft", sft.getConfigList("loss").get(0).getString("key"));
        assertEquals("data.dataset", sft.getString("sampler.key"));
        assertFalse(sft.hasPath("lr"), "0 keeps the train block's lr");
        Config gkd = s.get(1).params();
        assertEquals("sft", gkd.getString("init-from-stage"));
        assertFalse(gkd.hasPath("steps"));
        assertEquals("gkd.on-policy", gkd.getString("sampler.key"));
        assertEquals(0.5, gkd.getDouble("sampler.params.lambda"));
        assertEquals(0.9, gkd.getDouble("sampler.params.temperature"));
        assertEquals(128, gkd.getInt("sampler.params.max-new-tokens"));
        Config loss = gkd.getConfigList("loss").get(0);
        assertEquals("kd.jsd", loss.getString("key"));
        assertEquals(0.5, loss.getDouble("params.beta"));
        assertEquals(List.of("sft", "gkd"), s.get(2).params().getStringList("students"));
        assertEquals("test", s.get(2).params().getString("split"));
    }

    @Test
    void overridesAndTheOfflineBaseline() {
        List<StageSpec> s = stages("sft-steps = 0, steps = 40, lr = 1e-4, offline-baseline = true, "
                + "sampler { lambda = 1.0, seq-kd = true }, loss = [ { key = kd.reverse-kl } ]");
        assertEquals(List.of("gkd", "offline", "evaluate"), s.stream().map(StageSpec::name).toList());
        Config gkd = s.get(0).params();
        assertFalse(gkd.hasPath("init-from-stage"), "no sft stage to start from");
        assertEquals(40, gkd.getLong("steps"));
        assertEquals(1e-4, gkd.getDouble("lr"));
        assertEquals(1.0, gkd.getDouble("sampler.params.lambda"));
        assertEquals("kd.reverse-kl", gkd.getConfigList("loss").get(0).getString("key"));
        Config offline = s.get(1).params();
        assertEquals("data.dataset", offline.getString("sampler.key"));
        assertEquals(40, offline.getLong("steps"));
        assertEquals("kd.reverse-kl", offline.getConfigList("loss").get(0).getString("key"));
        assertEquals(List.of("gkd", "offline"), s.get(2).params().getStringList("students"));
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
