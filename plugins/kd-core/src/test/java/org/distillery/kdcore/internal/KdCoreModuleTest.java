package org.distillery.kdcore.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Set;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import org.distillery.api.ContributionKind;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;

/** The Guice module binds every kd-core loss, each with defaults that build it, and range checks fire. */
class KdCoreModuleTest {

    private static final Set<String> KEYS = Set.of("kd.sft", "kd.seqkd", "kd.forward-kl", "kd.reverse-kl", "kd.jsd",
            "kd.tvd", "kd.skew-kl", "kd.skew-rkl", "kd.hidden");

    private static LossHarness harness;

    @BeforeAll
    static void setUp() {
        harness = new LossHarness();
    }

    @AfterAll
    static void tearDown() {
        harness.close();
    }

    @Test
    void bindsEveryLossWithDefaults() {
        assertEquals(KEYS, harness.factories().keySet());
        for (String key : KEYS) {
            assertTrue(key.matches(ContributionKind.KEY_PATTERN), key);
            assertFalse(harness.factories().get(key).description().isBlank(), key);
            Loss loss = harness.create(key, "");
            Set<Loss.Need> expected = switch (key) {
                case "kd.sft", "kd.seqkd" -> Set.of();
                case "kd.hidden" -> Set.of(Loss.Need.STUDENT_HIDDEN, Loss.Need.TEACHER_HIDDEN);
                default -> Set.of(Loss.Need.TEACHER_LOGITS);
            };
            assertEquals(expected, loss.needs(), key);
        }
    }

    @Test
    void defaultsAreTheDocumentedOnes() {
        assertEquals(1.0, harness.defaults("kd.forward-kl").getDouble("temperature"));
        assertEquals(64, harness.defaults("kd.forward-kl").getInt("chunk-size"));
        assertEquals(0.5, harness.defaults("kd.jsd").getDouble("beta"));
        assertEquals(0.1, harness.defaults("kd.skew-kl").getDouble("alpha"));
        assertEquals(0.1, harness.defaults("kd.skew-rkl").getDouble("alpha"));
        assertEquals(0.0, harness.defaults("kd.sft").getDouble("label-smoothing"));
        assertEquals("mse", harness.defaults("kd.hidden").getString("metric"));
        assertTrue(harness.defaults("kd.hidden").getList("layers").isEmpty());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "kd.forward-kl | temperature = 0      | temperature",
        "kd.reverse-kl | chunk-size = 0       | chunk-size",
        "kd.jsd        | beta = 1.5           | beta",
        "kd.skew-kl    | alpha = 1.0          | alpha",
        "kd.skew-rkl   | alpha = -0.1         | alpha",
        "kd.sft        | label-smoothing = 1  | label-smoothing",
        "kd.hidden     | metric = l1          | metric",
        "kd.hidden     | projection = maybe   | projection",
        "kd.hidden     | layers = [[1]]       | layers",
        "kd.hidden     | layers = [[1, a]]    | layers",
    })
    void rejectsValuesOutOfRange(String key, String hocon, String path) {
        InvalidConfigException e = assertThrows(InvalidConfigException.class, () -> harness.create(key, hocon));
        assertEquals("train.loss[0].params." + path, e.path());
    }
}
