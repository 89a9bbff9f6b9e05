package org.distillery.kit.module;

import java.lang.reflect.Type;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

import com.google.inject.Binding;
import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.Module;
import com.google.inject.Stage;
import com.google.inject.util.Types;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionFactory;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;

/**
 * The contributions a Guice module binds: for every {@link ContributionKind}, the entries of its
 * {@code MapBinder<String, F>} (F the kind's factory type), each with its defaults from the
 * module's {@code reference.conf} at {@link ContributionKind#defaultsPath}. This is how the kernel
 * reads every module, a bundle's or its own built-in ones, and how a bundle's tests find their
 * contributions exactly as the kernel will:
 *
 * <pre>
 * List&lt;ModuleContributions.Entry&gt; mine = ModuleContributions.of(new MyModule(),
 *         ModuleContributions.reference(MyModule.class.getClassLoader(), "reference.conf"));
 * ContributionRegistry registry = ModuleContributions.registry(mine, "org.acme.mykd", "1.0.0");
 * </pre>
 */
public final class ModuleContributions {

    private static final Pattern KEY = Pattern.compile(ContributionKind.KEY_PATTERN);

    /**
     * One bound contribution.
     *
     * @param kind its kind
     * @param key its registry key
     * @param factory its factory (of the kind's factory type)
     * @param defaults its default parameters
     */
    public record Entry(ContributionKind kind, String key, ContributionFactory factory, Config defaults) {
    }

    private ModuleContributions() {
    }

    /** Builds an injector of {@code modules} (production stage) and reads its contributions. */
    public static List<Entry> of(Module module, Config reference) {
        return read(Guice.createInjector(Stage.PRODUCTION, module), reference);
    }

    /**
     * Reads the contributions bound in {@code injector}.
     *
     * @throws IllegalArgumentException when a key is not lowercase and dotted
     */
    public static List<Entry> read(Injector injector, Config reference) {
        List<Entry> out = new ArrayList<>();
        for (ContributionKind kind : ContributionKind.values()) {
            Type mapType = Types.mapOf(String.class, kind.factoryType());
            @SuppressWarnings("unchecked")
            Key<Map<String, Object>> key = (Key<Map<String, Object>>) Key.get(mapType);
            Binding<Map<String, Object>> binding = injector.getExistingBinding(key);
            if (binding == null) {
                continue;
            }
            for (Map.Entry<String, Object> e : binding.getProvider().get().entrySet()) {
                if (!KEY.matcher(e.getKey()).matches()) {
                    throw new IllegalArgumentException(kind.plural() + " key '" + e.getKey()
                            + "' is not lowercase dotted (e.g. kd.forward-kl)");
                }
                String path = kind.defaultsPath(e.getKey());
                Config defaults = reference.hasPath(path) ? reference.getConfig(path) : ConfigFactory.empty();
                out.add(new Entry(kind, e.getKey(), (ContributionFactory) e.getValue(), defaults));
            }
        }
        return List.copyOf(out);
    }

    /** The defaults file {@code resource} (e.g. {@code reference.conf}) read through {@code loader}, resolved. */
    public static Config reference(ClassLoader loader, String resource) {
        return ConfigFactory.parseResources(loader, resource,
                ConfigParseOptions.defaults().setClassLoader(loader)).resolve();
    }

    /** A registry holding {@code entries}, reported as provided by {@code bundle} at {@code version}. */
    public static ContributionRegistry registry(List<Entry> entries, String bundle, String version) {
        List<Entry> all = List.copyOf(entries);
        return new ContributionRegistry() {
            @Override
            public <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> type) {
                return all.stream().filter(e -> e.kind() == kind && e.key().equals(key) && type.isInstance(e.factory()))
                        .findFirst().map(e -> new Contribution<>(info(e, bundle, version), type.cast(e.factory()),
                                e.defaults()));
            }

            @Override
            public List<ContributionInfo> list(ContributionKind kind) {
                return all.stream().filter(e -> e.kind() == kind).map(e -> info(e, bundle, version))
                        .sorted(Comparator.comparing(ContributionInfo::key)).toList();
            }
        };
    }

    private static ContributionInfo info(Entry e, String bundle, String version) {
        return new ContributionInfo(e.kind(), e.key(), bundle, version, e.factory().description());
    }
}
