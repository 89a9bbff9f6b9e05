package org.distillery.kit.module;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;

import com.google.inject.AbstractModule;
import com.google.inject.Guice;
import com.google.inject.multibindings.MapBinder;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.junit.jupiter.api.Test;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.metric.Metric;
import org.distillery.api.metric.MetricFactory;
import org.distillery.api.sampler.Sampler;
import org.distillery.api.sampler.SamplerContext;
import org.distillery.api.sampler.SamplerFactory;

/** {@link ModuleContributions}: MapBinder entries of several kinds with their defaults, and a registry over them. */
class ModuleContributionsTest {

    private static final String REFERENCE = "org/distillery/kit/module/test-reference.conf";

    /** A loss factory that names itself. */
    private record TestLoss(String description) implements LossFactory {
        @Override
        public Loss create(LossContext context, Config params) {
            throw new UnsupportedOperationException("not built in this test");
        }
    }

    /** A sampler factory. */
    private static final class TestSampler implements SamplerFactory {
        @Override
        public Sampler create(SamplerContext context, Config params) {
            throw new UnsupportedOperationException("not built in this test");
        }

        @Override
        public String description() {
            return "a test sampler";
        }
    }

    /** A metric factory Guice constructs. */
    static final class TestMetric implements MetricFactory {
        @Override
        public Metric create(Config params) {
            throw new UnsupportedOperationException("not built in this test");
        }

        @Override
        public String description() {
            return "a test metric";
        }
    }

    private static final TestLoss LOSS_A = new TestLoss("loss a");
    private static final TestLoss LOSS_Z = new TestLoss("loss z");
    private static final TestSampler SAMPLER = new TestSampler();

    /** Binds two losses (out of key order), a sampler, a metric by class, and a map of another type. */
    private static final class TestModule extends AbstractModule {
        @Override
        protected void configure() {
            MapBinder<String, LossFactory> losses = MapBinder.newMapBinder(binder(), String.class, LossFactory.class);
            losses.addBinding("test.loss-z").toInstance(LOSS_Z);
            losses.addBinding("test.loss-a").toInstance(LOSS_A);
            MapBinder.newMapBinder(binder(), String.class, SamplerFactory.class).addBinding("test.sampler")
                    .toInstance(SAMPLER);
            MapBinder.newMapBinder(binder(), String.class, MetricFactory.class).addBinding("test.metric")
                    .to(TestMetric.class);
            MapBinder.newMapBinder(binder(), String.class, Runnable.class).addBinding("test.not-a-contribution")
                    .toInstance(() -> { });
        }
    }

    private static Config reference() {
        return ModuleContributions.reference(ModuleContributionsTest.class.getClassLoader(), REFERENCE);
    }

    private static ModuleContributions.Entry entry(List<ModuleContributions.Entry> entries, String key) {
        return entries.stream().filter(e -> e.key().equals(key)).findFirst().orElseThrow();
    }

    @Test
    void readsEveryKindWithItsDefaults() {
        List<ModuleContributions.Entry> entries = ModuleContributions.of(new TestModule(), reference());
        assertEquals(4, entries.size(), entries.toString());

        ModuleContributions.Entry a = entry(entries, "test.loss-a");
        assertEquals(ContributionKind.LOSS, a.kind());
        assertSame(LOSS_A, a.factory());
        assertEquals(2.0, a.defaults().getDouble("temperature"));
        assertEquals(2.0, a.defaults().getDouble("scaled"), "the reference file is resolved");

        ModuleContributions.Entry z = entry(entries, "test.loss-z");
        assertSame(LOSS_Z, z.factory());
        assertTrue(z.defaults().isEmpty(), "no defaults in the file: empty");

        ModuleContributions.Entry sampler = entry(entries, "test.sampler");
        assertEquals(ContributionKind.SAMPLER, sampler.kind());
        assertSame(SAMPLER, sampler.factory());
        assertEquals(ConfigFactory.parseString("file = \"\", shuffle = true"), sampler.defaults());

        ModuleContributions.Entry metric = entry(entries, "test.metric");
        assertEquals(ContributionKind.METRIC, metric.kind());
        assertInstanceOf(TestMetric.class, metric.factory());
        assertTrue(metric.defaults().isEmpty());

        assertTrue(entries.stream().noneMatch(e -> e.key().equals("test.not-a-contribution")),
                "a map of another value type is not a contribution");
        assertThrows(UnsupportedOperationException.class, () -> entries.clear());
    }

    @Test
    void aModuleWithoutContributionsHasNone() {
        assertEquals(List.of(), ModuleContributions.read(Guice.createInjector(), ConfigFactory.empty()));
        assertEquals(List.of(), ModuleContributions.of(new AbstractModule() { }, reference()));
    }

    @Test
    void aKeyThatIsNotLowercaseDottedIsRefused() {
        for (String bad : new String[] {"Test.Loss", "loss", "test_loss.x", "test.", ".test", "test..loss", "1test.a"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> ModuleContributions.of(new AbstractModule() {
                        @Override
                        protected void configure() {
                            MapBinder.newMapBinder(binder(), String.class, LossFactory.class).addBinding(bad)
                                    .toInstance(LOSS_A);
                        }
                    }, ConfigFactory.empty()), bad);
            assertTrue(e.getMessage().contains("'" + bad + "'"), e.getMessage());
            assertTrue(e.getMessage().startsWith("losses key"), e.getMessage());
        }
    }

    @Test
    void theRegistryFindsByKindKeyAndFactoryTypeAndListsSorted() {
        List<ModuleContributions.Entry> entries = ModuleContributions.of(new TestModule(), reference());
        ContributionRegistry registry = ModuleContributions.registry(entries, "org.acme.kd", "1.2.3");

        Contribution<LossFactory> a = registry.find(ContributionKind.LOSS, "test.loss-a", LossFactory.class)
                .orElseThrow();
        assertSame(LOSS_A, a.factory());
        assertEquals(2.0, a.defaults().getDouble("temperature"));
        assertEquals(new ContributionInfo(ContributionKind.LOSS, "test.loss-a", "org.acme.kd", "1.2.3", "loss a"),
                a.info());
        assertEquals("test.loss-a@org.acme.kd/1.2.3", a.info().coordinates());

        assertTrue(registry.find(ContributionKind.LOSS, "test.loss-a", SamplerFactory.class).isEmpty(),
                "a loss is not a sampler factory");
        assertTrue(registry.find(ContributionKind.SAMPLER, "test.loss-a", LossFactory.class).isEmpty(),
                "nor registered as a sampler");
        assertTrue(registry.find(ContributionKind.LOSS, "test.missing", LossFactory.class).isEmpty());
        assertSame(SAMPLER, registry.find(ContributionKind.SAMPLER, "test.sampler", SamplerFactory.class)
                .orElseThrow().factory());
        assertTrue(registry.find(ContributionKind.SAMPLER, "test.sampler", Object.class).isPresent(),
                "any supertype of the factory finds it");

        assertEquals(List.of("test.loss-a", "test.loss-z"),
                registry.list(ContributionKind.LOSS).stream().map(ContributionInfo::key).toList(), "sorted by key");
        assertEquals("a test metric", registry.list(ContributionKind.METRIC).get(0).description());
        assertEquals(List.of(), registry.list(ContributionKind.TEACHER));
    }

    @Test
    void referenceReadsAMissingResourceAsEmpty() {
        assertTrue(ModuleContributions.reference(getClass().getClassLoader(), "no/such/reference.conf").isEmpty());
    }
}
