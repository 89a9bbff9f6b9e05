package org.distillery.kernel.osgi;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Manifest;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Module;
import com.google.inject.Stage;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigParseOptions;

import org.distillery.api.ContributionKind;
import org.distillery.kit.module.ModuleContributions;

/**
 * The contributions built into the kernel, registered exactly as a bundle's: every jar on the
 * launcher's class path whose manifest names a Guice module in {@link ContributionKind#MODULE_HEADER}
 * (the training engine, evaluation, teachers) has that module read with {@link ModuleContributions},
 * with defaults from the same jar's {@code reference.conf}. No list of built-ins is kept by hand:
 * adding a framework module with the header is enough.
 */
public final class BuiltInModules {

    /**
     * One module named by a manifest on the class path, not yet read.
     *
     * @param source the jar (or class folder) it came from
     * @param module the module's class name
     */
    public record Named(String source, String module) {
    }

    /**
     * One module read.
     *
     * @param source the jar (or class folder) it came from
     * @param module the module's class name
     * @param contributions what it binds
     * @param nanos how long reading it took (loading the module, its injector, its reference.conf)
     */
    public record Found(String source, String module, List<ModuleContributions.Entry> contributions, long nanos) {
    }

    private BuiltInModules() {
    }

    /**
     * Reads every module named by a manifest on {@code loader}'s class path; {@code kernelServices}
     * binds the kernel services a module may inject, as for bundles.
     *
     * @throws IllegalStateException when a named module cannot be loaded or read (a broken distribution)
     */
    public static List<Found> read(ClassLoader loader, Module kernelServices) throws IOException {
        List<Found> out = new ArrayList<>();
        for (Named n : named(loader)) {
            out.add(read(loader, n, kernelServices));
        }
        return out;
    }

    /** The modules the manifests on {@code loader}'s class path name (a scan of the manifests, no class loaded). */
    public static List<Named> named(ClassLoader loader) throws IOException {
        List<Named> out = new ArrayList<>();
        Enumeration<URL> manifests = loader.getResources("META-INF/MANIFEST.MF");
        while (manifests.hasMoreElements()) {
            URL url = manifests.nextElement();
            String moduleClass;
            try (InputStream in = url.openStream()) {
                moduleClass = new Manifest(in).getMainAttributes().getValue(ContributionKind.MODULE_HEADER);
            }
            if (moduleClass == null || moduleClass.isBlank()) {
                continue;
            }
            String base = url.toString().substring(0, url.toString().length() - "META-INF/MANIFEST.MF".length());
            out.add(new Named(base, moduleClass.trim()));
        }
        return out;
    }

    /**
     * Reads one module: its class, an injector over it and the kernel services, and the defaults of
     * its jar's {@code reference.conf}. Modules are independent, so several may be read at once.
     *
     * @throws IllegalStateException when the module cannot be loaded or read (a broken distribution)
     */
    public static Found read(ClassLoader loader, Named named, Module kernelServices) {
        long t0 = System.nanoTime();
        try {
            Config reference = ConfigFactory.parseURL(new URL(named.source() + "reference.conf"),
                    ConfigParseOptions.defaults().setAllowMissing(true).setClassLoader(loader)).resolve();
            Module module = (Module) loader.loadClass(named.module()).getConstructor().newInstance();
            Injector injector = Guice.createInjector(Stage.PRODUCTION, kernelServices, module);
            return new Found(named.source(), named.module(), ModuleContributions.read(injector, reference),
                    System.nanoTime() - t0);
        } catch (ReflectiveOperationException | IOException | RuntimeException e) {
            throw new IllegalStateException("the built-in module " + named.module() + " named by " + named.source()
                    + " cannot be read: " + e, e);
        }
    }
}
