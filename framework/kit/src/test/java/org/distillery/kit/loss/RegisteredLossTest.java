package org.distillery.kit.loss;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.junit.jupiter.api.Test;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.api.InvalidConfigException;
import org.distillery.api.loss.Loss;
import org.distillery.api.loss.LossContext;
import org.distillery.api.loss.LossFactory;
import org.distillery.api.loss.LossInput;
import org.distillery.api.loss.LossValue;

/** {@link RegisteredLoss}: built from the registry over its defaults, rebuilt when its provider changes. */
class RegisteredLossTest {

    private static final String KEY = "kd.reverse-kl";
    private static final String OWNER = "minillm.single-step";

    /** A registry whose contributions a test replaces and removes, as bundle updates do. */
    private static final class MutableRegistry implements ContributionRegistry {
        final Map<String, Contribution<LossFactory>> losses = new HashMap<>();

        void put(String key, LossFactory factory, Config defaults, String version) {
            losses.put(key, new Contribution<>(new ContributionInfo(ContributionKind.LOSS, key, "org.acme.kd", version,
                    factory.description()), factory, defaults));
        }

        @Override
        public <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> type) {
            Contribution<LossFactory> c = kind == ContributionKind.LOSS ? losses.get(key) : null;
            if (c == null || !type.isInstance(c.factory())) {
                return Optional.empty();
            }
            return Optional.of(new Contribution<>(c.info(), type.cast(c.factory()), c.defaults()));
        }

        @Override
        public List<ContributionInfo> list(ContributionKind kind) {
            return List.of();
        }
    }

    /** The loss a factory built: what it was built with. */
    private record BuiltLoss(LossFactory by, LossContext context, Config params) implements Loss {
        @Override
        public Set<Need> needs() {
            return Set.of();
        }

        @Override
        public LossValue compute(LossInput input) {
            throw new UnsupportedOperationException("not computed in this test");
        }
    }

    /** A factory that counts what it builds. */
    private static final class CountingFactory implements LossFactory {
        final List<BuiltLoss> built = new ArrayList<>();

        @Override
        public Loss create(LossContext context, Config params) {
            BuiltLoss l = new BuiltLoss(this, context, params);
            built.add(l);
            return l;
        }

        @Override
        public String description() {
            return "a counting test loss";
        }
    }

    private static LossContext context(ContributionRegistry registry, String paramsPath) {
        return new LossContext(null, 7, registry, null, null, paramsPath);
    }

    @Test
    void buildsTheRegisteredLossOverItsDefaultsOnce() {
        MutableRegistry registry = new MutableRegistry();
        CountingFactory factory = new CountingFactory();
        registry.put(KEY, factory, ConfigFactory.parseString("temperature = 1.0, chunk-size = 64"), "1.0.0");
        LossContext context = context(registry, "train.loss[1].params");
        RegisteredLoss composed = new RegisteredLoss(context, KEY,
                ConfigFactory.parseString("temperature = 2.0"), OWNER);
        assertEquals(KEY, composed.key());
        assertTrue(factory.built.isEmpty(), "built when first used, not before");

        BuiltLoss loss = (BuiltLoss) composed.get();
        assertSame(factory, loss.by());
        assertSame(context, loss.context(), "built with the composing loss's context");
        assertEquals(2.0, loss.params().getDouble("temperature"), 0.0, "the given params win");
        assertEquals(64, loss.params().getInt("chunk-size"), "the defaults fill the rest");

        assertSame(loss, composed.get(), "the same provider: the same loss");
        assertSame(loss, composed.get());
        assertEquals(1, factory.built.size());
    }

    @Test
    void isRebuiltWhenTheProviderChanges() {
        MutableRegistry registry = new MutableRegistry();
        CountingFactory v1 = new CountingFactory();
        registry.put(KEY, v1, ConfigFactory.parseString("temperature = 1.0"), "1.0.0");
        RegisteredLoss composed = new RegisteredLoss(context(registry, "train.loss[0].params"), KEY,
                ConfigFactory.empty(), OWNER);
        Loss first = composed.get();

        CountingFactory v2 = new CountingFactory();
        registry.put(KEY, v2, ConfigFactory.parseString("temperature = 3.0"), "1.0.1");
        BuiltLoss second = (BuiltLoss) composed.get();
        assertNotSame(first, second);
        assertSame(v2, second.by(), "the updated bundle's factory");
        assertEquals(3.0, second.params().getDouble("temperature"), 0.0, "over the new provider's defaults");
        assertSame(second, composed.get());
        assertEquals(1, v1.built.size());
        assertEquals(1, v2.built.size());

        registry.put(KEY, v1, ConfigFactory.parseString("temperature = 1.0"), "1.0.0");
        assertSame(v1, ((BuiltLoss) composed.get()).by(), "swapped back: rebuilt again");
        assertEquals(2, v1.built.size());
    }

    @Test
    void aMissingLossIsAConfigErrorNamingTheOwnerAndTheParamsPath() {
        MutableRegistry registry = new MutableRegistry();
        InvalidConfigException e = assertThrows(InvalidConfigException.class,
                () -> new RegisteredLoss(context(registry, "train.loss[2].params"), KEY, ConfigFactory.empty(), OWNER));
        assertEquals("train.loss[2].params", e.path());
        assertTrue(e.getMessage().contains(OWNER), e.getMessage());
        assertTrue(e.getMessage().contains(KEY), e.getMessage());

        for (String none : new String[] {"", null}) {
            e = assertThrows(InvalidConfigException.class,
                    () -> new RegisteredLoss(context(registry, none), KEY, ConfigFactory.empty(), OWNER));
            assertEquals("train.loss", e.path(), "without a params path: " + none);
        }
    }

    @Test
    void aLossThatVanishesLaterFailsTheNextGet() {
        MutableRegistry registry = new MutableRegistry();
        registry.put(KEY, new CountingFactory(), ConfigFactory.empty(), "1.0.0");
        RegisteredLoss composed = new RegisteredLoss(context(registry, "train.loss[0].params"), KEY,
                ConfigFactory.empty(), OWNER);
        composed.get();
        registry.losses.remove(KEY);
        IllegalStateException e = assertThrows(IllegalStateException.class, composed::get);
        assertTrue(e.getMessage().contains(KEY), e.getMessage());
    }
}
