package org.distillery.kernel.osgi;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;

import org.distillery.api.Contribution;
import org.distillery.api.ContributionInfo;
import org.distillery.api.ContributionKind;
import org.distillery.api.ContributionRegistry;
import org.distillery.kit.module.ModuleContributions;
import org.osgi.framework.BundleContext;
import org.osgi.framework.InvalidSyntaxException;
import org.osgi.framework.ServiceReference;
import org.osgi.framework.ServiceRegistration;

/**
 * The registry over the OSGi service registry: every lookup asks the framework, so a
 * contribution whose bundle was updated or uninstalled is replaced or gone at once. When two
 * bundles register the same key, the highest-ranked (then oldest) service wins, as in OSGi.
 */
public final class OsgiContributionRegistry implements ContributionRegistry {

    /** Bundle name shown for contributions built into the kernel. */
    public static final String BUILT_IN = "distillery-kernel";

    private final BundleContext context;

    /** Creates the registry over {@code context} (the system bundle's). */
    public OsgiContributionRegistry(BundleContext context) {
        this.context = context;
    }

    /** Registers a contribution the kernel itself provides (a built-in module's), with the kernel's version. */
    public ServiceRegistration<?> registerBuiltIn(ModuleContributions.Entry entry, String version) {
        return context.registerService(entry.kind().factoryType().getName(), entry.factory(),
                ContributionExtender.properties(entry, BUILT_IN, version));
    }

    @Override
    public <F> Optional<Contribution<F>> find(ContributionKind kind, String key, Class<F> factoryType) {
        List<ServiceReference<?>> refs = references(kind, key);
        for (ServiceReference<?> ref : refs) {
            Object service = context.getService(ref);
            if (service != null && factoryType.isInstance(service)) {
                return Optional.of(new Contribution<>(info(kind, ref), factoryType.cast(service), defaults(ref)));
            }
        }
        return Optional.empty();
    }

    @Override
    public List<ContributionInfo> list(ContributionKind kind) {
        List<ContributionInfo> out = new ArrayList<>();
        for (ServiceReference<?> ref : references(kind, null)) {
            out.add(info(kind, ref));
        }
        out.sort(Comparator.comparing(ContributionInfo::key).thenComparing(ContributionInfo::bundle));
        return out;
    }

    /** Keys of every contribution of {@code kind}. */
    public List<String> keys(ContributionKind kind) {
        return list(kind).stream().map(ContributionInfo::key).distinct().toList();
    }

    /** The defaults of the contribution that {@link #find} would return, if any. */
    public Optional<Config> defaults(ContributionKind kind, String key) {
        List<ServiceReference<?>> refs = references(kind, key);
        return refs.isEmpty() ? Optional.empty() : Optional.of(defaults(refs.get(0)));
    }

    private List<ServiceReference<?>> references(ContributionKind kind, String key) {
        String filter = "(" + ContributionKind.KIND_PROPERTY + "=" + kind.plural() + ")";
        if (key != null) {
            filter = "(&" + filter + "(" + ContributionKind.KEY_PROPERTY + "=" + escape(key) + "))";
        }
        try {
            ServiceReference<?>[] refs = context.getServiceReferences(kind.factoryType().getName(), filter);
            if (refs == null) {
                return List.of();
            }
            List<ServiceReference<?>> sorted = new ArrayList<>(Arrays.asList(refs));
            sorted.sort(Comparator.reverseOrder());
            return sorted;
        } catch (InvalidSyntaxException e) {
            throw new IllegalArgumentException("bad registry key '" + key + "'", e);
        }
    }

    private static ContributionInfo info(ContributionKind kind, ServiceReference<?> ref) {
        return new ContributionInfo(kind, (String) ref.getProperty(ContributionKind.KEY_PROPERTY),
                (String) ref.getProperty(ContributionExtender.BUNDLE_PROPERTY),
                (String) ref.getProperty(ContributionExtender.VERSION_PROPERTY),
                (String) ref.getProperty(ContributionExtender.DESCRIPTION_PROPERTY));
    }

    private static Config defaults(ServiceReference<?> ref) {
        Object d = ref.getProperty(ContributionExtender.DEFAULTS_PROPERTY);
        return d instanceof Config c ? c : ConfigFactory.empty();
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("*", "\\*").replace("(", "\\(").replace(")", "\\)");
    }
}
