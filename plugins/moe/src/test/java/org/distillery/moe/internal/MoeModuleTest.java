package org.distillery.moe.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Map;
import java.util.Set;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.ContributionKind;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.model.ModelInitializerFactory;
import org.distillery.api.teacher.TeacherFactory;
import org.junit.jupiter.api.Test;

/** The Guice module binds every contribution under a valid key, each with a defaults block. */
class MoeModuleTest {

    @Test
    void bindsEveryContributionWithDefaults() {
        Injector injector = Guice.createInjector(new MoeModule());
        Map<String, ModelInitializerFactory> inits = injector.getInstance(
                Key.get(new TypeLiteral<Map<String, ModelInitializerFactory>>() { }));
        Map<String, TeacherFactory> teachers = injector.getInstance(Key.get(new TypeLiteral<Map<String, TeacherFactory>>() { }));
        Map<String, LossFactory> losses = injector.getInstance(Key.get(new TypeLiteral<Map<String, LossFactory>>() { }));
        assertEquals(Set.of("moe.aggregate"), inits.keySet());
        assertEquals(Set.of("moe.ka", "moe.sar"), teachers.keySet());
        assertEquals(Set.of("moe.ka"), losses.keySet());
        Config ref = ConfigFactory.parseResources(MoeModule.class.getClassLoader(), "reference.conf");
        for (var e : Map.of(ContributionKind.MODEL_INITIALIZER, inits.keySet(), ContributionKind.TEACHER,
                teachers.keySet(), ContributionKind.LOSS, losses.keySet()).entrySet()) {
            for (String key : e.getValue()) {
                assertTrue(key.matches(ContributionKind.KEY_PATTERN), key);
                assertTrue(ref.hasPath(e.getKey().defaultsPath(key)), key + " has defaults");
            }
        }
        assertFalse(inits.get("moe.aggregate").description().isBlank());
        assertEquals("average", ref.getString("distillery.initializers.\"moe.aggregate\".method"));
        assertEquals(1.0, ref.getDouble("distillery.teachers.\"moe.ka\".sampling-prob"));
        assertEquals("kd.forward-kl", ref.getString("distillery.losses.\"moe.ka\".divergence"));
    }
}
