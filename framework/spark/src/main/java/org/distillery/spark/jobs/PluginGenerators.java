package org.distillery.spark.jobs;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.Manifest;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Key;
import com.google.inject.Module;
import com.google.inject.TypeLiteral;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.ContributionKind;
import org.distillery.api.data.DataGeneratorFactory;
import org.distillery.spark.InvalidInputException;

/**
 * Data generators of the bundles on the class path, found as the kernel finds them: each jar's
 * {@code Distillery-Module} manifest header names a Guice module, whose {@code MapBinder} of
 * {@link DataGeneratorFactory} gives the generators by key; defaults come from the bundles'
 * {@code reference.conf}. Nothing of a bundle is imported, so its internals stay its own.
 */
final class PluginGenerators {

    /** The manifest header naming a bundle's Guice module. */
    static final String MODULE_HEADER = "Distillery-Module";

    private static Map<String, DataGeneratorFactory> factories;

    private PluginGenerators() {
    }

    /** The generator registered as {@code key}. */
    static synchronized DataGeneratorFactory factory(String key) {
        if (factories == null) {
            factories = load();
        }
        DataGeneratorFactory f = factories.get(key);
        if (f == null) {
            throw new InvalidInputException("no data generator " + key + " on the class path (found: "
                    + String.join(", ", factories.keySet()) + "); the data bundle's jar must be on it");
        }
        return f;
    }

    /** The defaults of {@code key} from the bundles' {@code reference.conf}. */
    static Config defaults(String key) {
        ClassLoader loader = PluginGenerators.class.getClassLoader();
        Config ref = ConfigFactory.parseResources(loader, "reference.conf",
                ConfigParseOptions.defaults().setClassLoader(loader)).resolve();
        String path = ContributionKind.DATA_GENERATOR.defaultsPath(key);
        if (!ref.hasPath(path)) {
            throw new InvalidInputException("no defaults for " + key + " in the class path's reference.conf");
        }
        return ref.getConfig(path);
    }

    private static Map<String, DataGeneratorFactory> load() {
        ClassLoader loader = PluginGenerators.class.getClassLoader();
        Set<String> names = new LinkedHashSet<>();
        try {
            Enumeration<URL> manifests = loader.getResources("META-INF/MANIFEST.MF");
            while (manifests.hasMoreElements()) {
                try (InputStream in = manifests.nextElement().openStream()) {
                    String m = new Manifest(in).getMainAttributes().getValue(MODULE_HEADER);
                    if (m != null && !m.isBlank()) {
                        names.add(m.trim());
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("reading the class path's manifests: " + e.getMessage(), e);
        }
        List<Module> modules = new ArrayList<>();
        for (String n : names) {
            try {
                modules.add((Module) Class.forName(n, true, loader).getDeclaredConstructor().newInstance());
            } catch (ReflectiveOperationException | ClassCastException e) {
                throw new IllegalStateException("cannot create the Guice module " + n + ": " + e, e);
            }
        }
        Injector injector = Guice.createInjector(modules);
        Map<String, DataGeneratorFactory> m = injector.getExistingBinding(
                Key.get(new TypeLiteral<Map<String, DataGeneratorFactory>>() { })) == null ? Map.of()
                : injector.getInstance(Key.get(new TypeLiteral<Map<String, DataGeneratorFactory>>() { }));
        return Map.copyOf(m);
    }
}
