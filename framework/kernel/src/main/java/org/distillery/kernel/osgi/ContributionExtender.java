package org.distillery.kernel.osgi;

import java.util.ArrayList;
import java.util.Dictionary;
import java.util.Hashtable;
import java.util.List;

import com.google.inject.Guice;
import com.google.inject.Injector;
import com.google.inject.Module;
import com.google.inject.Stage;
import com.typesafe.config.Config;

import org.distillery.api.ContributionKind;
import org.distillery.kit.module.ModuleContributions;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.ServiceRegistration;
import org.osgi.framework.wiring.BundleWiring;
import org.osgi.util.tracker.BundleTracker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The extender: for every active bundle whose manifest names a Guice module in
 * {@link ContributionKind#MODULE_HEADER}, builds an injector (kernel services bound), reads
 * the module's {@code MapBinder} maps of each kind, and registers every entry as an OSGi
 * service with its key, kind, bundle and defaults. The registrations go when the bundle stops.
 */
public final class ContributionExtender extends BundleTracker<List<ServiceRegistration<?>>> {

    /** Service property holding the contribution's defaults ({@link Config}). */
    public static final String DEFAULTS_PROPERTY = "distillery.defaults";
    /** Service property holding the provider bundle's symbolic name. */
    public static final String BUNDLE_PROPERTY = "distillery.bundle";
    /** Service property holding the provider bundle's version. */
    public static final String VERSION_PROPERTY = "distillery.version";
    /** Service property holding the one-line description. */
    public static final String DESCRIPTION_PROPERTY = "distillery.description";

    private static final Logger LOG = LoggerFactory.getLogger(ContributionExtender.class);

    private final Module kernelServices;
    private final BundleProblems problems;

    /**
     * Creates the extender; call {@link #open()} to start tracking.
     *
     * @param context the system bundle's context
     * @param kernelServices binds the kernel services plugins may inject
     * @param problems where failures are reported
     */
    public ContributionExtender(BundleContext context, Module kernelServices, BundleProblems problems) {
        super(context, Bundle.ACTIVE, null);
        this.kernelServices = kernelServices;
        this.problems = problems;
    }

    @Override
    public List<ServiceRegistration<?>> addingBundle(Bundle bundle, BundleEvent event) {
        String moduleClass = bundle.getHeaders().get(ContributionKind.MODULE_HEADER);
        if (moduleClass == null) {
            return null;
        }
        List<ServiceRegistration<?>> regs = new ArrayList<>();
        try {
            publish(bundle, moduleClass.trim(), regs);
            return regs;
        } catch (Throwable e) {
            regs.forEach(ContributionExtender::unregisterQuietly);
            problems.report(BundleProblems.nameOf(bundle), "contributions", e);
            return null;
        }
    }

    private void publish(Bundle bundle, String moduleClass, List<ServiceRegistration<?>> regs) throws Exception {
        ClassLoader loader = bundle.adapt(BundleWiring.class).getClassLoader();
        Config reference = ModuleContributions.reference(loader, "reference.conf");
        Module module = (Module) bundle.loadClass(moduleClass).getConstructor().newInstance();
        Thread thread = Thread.currentThread();
        ClassLoader previous = thread.getContextClassLoader();
        Injector injector;
        thread.setContextClassLoader(loader);
        try {
            injector = Guice.createInjector(Stage.PRODUCTION, kernelServices, module);
        } finally {
            thread.setContextClassLoader(previous);
        }
        String name = BundleProblems.nameOf(bundle);
        String version = bundle.getVersion().toString();
        int published = 0;
        for (ModuleContributions.Entry e : ModuleContributions.read(injector, reference)) {
            regs.add(bundle.getBundleContext().registerService(e.kind().factoryType().getName(), e.factory(),
                    properties(e, name, version)));
            published++;
        }
        LOG.info("bundle {} {} published {} contribution(s)", name, version, published);
        problems.clear(name);
    }

    /** The service properties of a contribution: key, kind, provider, version, description, defaults. */
    static Dictionary<String, Object> properties(ModuleContributions.Entry e, String bundle, String version) {
        Dictionary<String, Object> props = new Hashtable<>();
        props.put(ContributionKind.KEY_PROPERTY, e.key());
        props.put(ContributionKind.KIND_PROPERTY, e.kind().plural());
        props.put(BUNDLE_PROPERTY, bundle);
        props.put(VERSION_PROPERTY, version);
        props.put(DESCRIPTION_PROPERTY, e.factory().description());
        props.put(DEFAULTS_PROPERTY, e.defaults());
        return props;
    }

    @Override
    public void removedBundle(Bundle bundle, BundleEvent event, List<ServiceRegistration<?>> regs) {
        regs.forEach(ContributionExtender::unregisterQuietly);
    }

    /** Unregisters quietly: the framework may already have taken the service down with its bundle. */
    static void unregisterQuietly(ServiceRegistration<?> reg) {
        try {
            reg.unregister();
        } catch (IllegalStateException alreadyGone) {
            // unregistered when the bundle stopped
        }
    }
}
