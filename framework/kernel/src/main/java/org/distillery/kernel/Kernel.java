package org.distillery.kernel;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.stream.Stream;

import com.google.inject.AbstractModule;
import com.google.inject.Module;

import org.distillery.api.ContributionRegistry;
import org.distillery.api.data.DataService;
import org.distillery.api.model.ModelService;
import org.distillery.api.tensor.TensorService;
import org.distillery.data.JsonlDataService;
import org.distillery.kernel.osgi.BuiltInModules;
import org.distillery.kernel.osgi.BundleProblems;
import org.distillery.kernel.osgi.BundleWatchdog;
import org.distillery.kernel.osgi.ContributionExtender;
import org.distillery.kernel.osgi.DropInWatcher;
import org.distillery.kernel.osgi.OsgiContributionRegistry;
import org.distillery.kernel.osgi.SystemPackages;
import org.distillery.models.HfModelService;
import org.distillery.tensor.DjlTensorService;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running kernel: the DJL engine (started first, on the launcher's class loader), an
 * embedded Felix whose system bundle exports the launcher's libraries, the kernel services,
 * the contribution extender, the distribution's bundles and the drop-in watcher.
 */
public final class Kernel implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Kernel.class);

    /**
     * How long the kernel waits for the framework to stop before it goes on without it (a bundle
     * whose stop hangs cannot keep the kernel from stopping).
     */
    public static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    /** How long a bundle's stop may take before the watchdog reports it as hanging. */
    public static final Duration HUNG_STOP = Duration.ofSeconds(5);
    /** How long a stopped bundle's threads may take to end before they are reported as leaked. */
    public static final Duration LEAK_GRACE = Duration.ofSeconds(2);

    private final KernelOptions options;
    private final DjlTensorService tensors;
    private final ModelService models;
    private final DataService data;
    private final Framework framework;
    private final Path storage;
    private final BundleProblems problems = new BundleProblems();
    private final OsgiContributionRegistry registry;
    private final ContributionExtender extender;
    private final DropInWatcher dropIn;
    private final BundleWatchdog watchdog;
    private final long readyNanos;
    /** When the framework was first seen stopping (System.nanoTime), or 0. */
    private volatile long stopSeenNanos;
    private final java.util.LinkedHashMap<String, Long> phases = new java.util.LinkedHashMap<>();

    private Kernel(KernelOptions options) throws Exception {
        long t0 = System.nanoTime();
        this.options = options;
        this.tensors = DjlTensorService.start(options.device());
        long t1 = System.nanoTime();
        phases.put("engine", t1 - t0);
        this.models = new HfModelService();
        this.data = new JsonlDataService();
        this.storage = Files.createTempDirectory("distillery-felix-");
        Map<String, String> props = new HashMap<>();
        props.put(Constants.FRAMEWORK_STORAGE, storage.toString());
        props.put(Constants.FRAMEWORK_STORAGE_CLEAN, Constants.FRAMEWORK_STORAGE_CLEAN_ONFIRSTINIT);
        props.put(Constants.FRAMEWORK_SYSTEMPACKAGES_EXTRA, SystemPackages.fromClassPath());
        long t2 = System.nanoTime();
        phases.put("system-packages", t2 - t1);
        props.put("felix.log.level", "1");
        props.put("gosh.args", options.interactiveShell() ? "" : "--nointeractive");
        props.put("gosh.home", options.home().toString());
        framework = ServiceLoader.load(FrameworkFactory.class).iterator().next().newFramework(props);
        framework.init();
        BundleContext system = framework.getBundleContext();
        system.addFrameworkListener(event -> {
            if (event.getType() == FrameworkEvent.ERROR && event.getBundle() != null) {
                problems.report(BundleProblems.nameOf(event.getBundle()), "framework", event.getThrowable());
            }
        });
        registry = new OsgiContributionRegistry(system);
        system.registerService(TensorService.class, tensors, null);
        system.registerService(ModelService.class, models, null);
        system.registerService(DataService.class, data, null);
        system.registerService(ContributionRegistry.class, registry, null);
        Module services = new AbstractModule() {
            @Override
            protected void configure() {
                bind(TensorService.class).toInstance(tensors);
                bind(ModelService.class).toInstance(models);
                bind(DataService.class).toInstance(data);
                bind(ContributionRegistry.class).toInstance(registry);
            }
        };
        for (BuiltInModules.Found found : BuiltInModules.read(Kernel.class.getClassLoader(), services)) {
            found.contributions().forEach(c -> registry.registerBuiltIn(c, Version.KERNEL));
        }
        watchdog = new BundleWatchdog(system, problems, HUNG_STOP, LEAK_GRACE);
        extender = new ContributionExtender(system, services, problems);
        extender.open();
        framework.start();
        long t3 = System.nanoTime();
        phases.put("felix", t3 - t2);
        installAndStart(system, options.bundleDirs());
        phases.put("bundles", System.nanoTime() - t3);
        dropIn = options.dropIn() == null ? null : new DropInWatcher(system, options.dropIn(), problems);
        if (dropIn != null) {
            dropIn.start(options.pollMillis());
        }
        readyNanos = System.nanoTime() - t0;
        LOG.info("kernel ready in {} ms ({})", readyNanos / 1_000_000, tensors.engineDescription());
    }

    /** Boots a kernel. */
    public static Kernel start(KernelOptions options) throws Exception {
        return new Kernel(options);
    }

    private void installAndStart(BundleContext system, List<Path> dirs) throws IOException {
        List<Bundle> installed = new ArrayList<>();
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            List<Path> jars;
            try (Stream<Path> s = Files.list(dir)) {
                jars = s.filter(p -> p.toString().endsWith(".jar")).sorted(Comparator.naturalOrder()).toList();
            }
            for (Path jar : jars) {
                try {
                    installed.add(system.installBundle(jar.toUri().toString()));
                } catch (BundleException | RuntimeException e) {
                    problems.report(jar.getFileName().toString(), "install", e);
                }
            }
        }
        for (Bundle b : installed) {
            if (b.getHeaders().get(Constants.FRAGMENT_HOST) != null) {
                continue;
            }
            try {
                b.start();
            } catch (BundleException | RuntimeException e) {
                problems.report(BundleProblems.nameOf(b), "start", e);
            }
        }
    }

    /** Options the kernel was started with. */
    public KernelOptions options() {
        return options;
    }

    /** The shared tensor service. */
    public DjlTensorService tensors() {
        return tensors;
    }

    /** The model service. */
    public ModelService models() {
        return models;
    }

    /** The data service. */
    public DataService data() {
        return data;
    }

    /** The contribution registry. */
    public OsgiContributionRegistry registry() {
        return registry;
    }

    /** Bundles that failed, with reasons. */
    public BundleProblems problems() {
        return problems;
    }

    /** The system bundle's context. */
    public BundleContext context() {
        return framework.getBundleContext();
    }

    /** Every installed bundle except the system bundle. */
    public List<Bundle> bundles() {
        List<Bundle> out = new ArrayList<>();
        for (Bundle b : framework.getBundleContext().getBundles()) {
            if (b.getBundleId() != 0) {
                out.add(b);
            }
        }
        return out;
    }

    /** Time from {@link #start} to ready, in nanoseconds. */
    public long readyNanos() {
        return readyNanos;
    }

    /** Start-up phases in order (engine, system-packages, felix, bundles), in nanoseconds. */
    public java.util.Map<String, Long> startupPhases() {
        return java.util.Collections.unmodifiableMap(phases);
    }

    /**
     * Blocks until the framework stops (the shell's {@code stop 0} or {@link #close()}); once it
     * is stopping, at most {@link #STOP_TIMEOUT} more, so a bundle whose stop hangs cannot hold
     * the kernel.
     */
    public void awaitStop() throws InterruptedException {
        while (framework.waitForStop(500).getType() == FrameworkEvent.WAIT_TIMEDOUT) {
            if (framework.getState() == Bundle.STOPPING || framework.getState() == Bundle.RESOLVED) {
                waitStopped();
                return;
            }
        }
    }

    /** Waits for the framework to stop until {@link #STOP_TIMEOUT} after it was first seen stopping. */
    private boolean waitStopped() throws InterruptedException {
        if (stopSeenNanos == 0) {
            stopSeenNanos = System.nanoTime();
        }
        long left = STOP_TIMEOUT.toMillis() - (System.nanoTime() - stopSeenNanos) / 1_000_000;
        if (left <= 0) {
            return framework.getState() != Bundle.STOPPING;
        }
        return framework.waitForStop(left).getType() != FrameworkEvent.WAIT_TIMEDOUT;
    }

    @Override
    public void close() {
        if (dropIn != null) {
            dropIn.close();
        }
        try {
            extender.close();
            if (framework.getState() == Bundle.ACTIVE || framework.getState() == Bundle.STARTING) {
                framework.stop();
            }
            if (!waitStopped()) {
                LOG.warn("the framework did not stop within {} s (a bundle's stop hangs: {}); going on without it",
                        STOP_TIMEOUT.toSeconds(), problems.all().stream()
                                .filter(p -> p.phase().equals(BundleProblems.STOP)).map(BundleProblems.Problem::bundle)
                                .distinct().toList());
            }
        } catch (BundleException | InterruptedException | IllegalStateException e) {
            LOG.warn("framework did not stop cleanly: {}", e.toString());
        } finally {
            watchdog.close();
            tensors.close();
            deleteTree(storage);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary folder; the OS cleans it eventually
        }
    }
}
