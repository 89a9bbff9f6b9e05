package org.distillery.kernel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
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
import org.distillery.tensor.CpuBudget;
import org.distillery.tensor.DjlTensorService;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.Constants;
import org.osgi.framework.FrameworkEvent;
import org.osgi.framework.launch.Framework;
import org.osgi.framework.launch.FrameworkFactory;
import org.osgi.framework.wiring.FrameworkWiring;
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
    private final List<StartCost> bundleCosts = new ArrayList<>();
    private final List<StartCost> builtInCosts = new ArrayList<>();

    /**
     * What starting one bundle or built-in module cost.
     *
     * @param name the bundle's symbolic name (or file) or the module's class
     * @param installNanos installing the bundle (reading its jar and manifest); 0 for a built-in
     * @param startNanos starting it: activation, the extender's injector and the registration of
     *     its contributions (for a built-in: loading the module, its injector and its defaults)
     * @param contributions contributions it published
     */
    public record StartCost(String name, long installNanos, long startNanos, int contributions) {
    }

    private Kernel(KernelOptions options) throws Exception {
        long t0 = System.nanoTime();
        this.options = options;
        boolean parallel = options.parallelStart();
        // libtorch loads on a thread of its own while Felix and the bundles start (none of them needs it
        // before a run); sequential start waits here, as the kernel used to
        this.tensors = DjlTensorService.begin(options.device(), options.threads());
        if (!parallel) {
            tensors.awaitReady();
            phases.put("engine", System.nanoTime() - t0);
        }
        long t1 = System.nanoTime();
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
        watchdog = new BundleWatchdog(system, problems, HUNG_STOP, LEAK_GRACE);
        ExecutorService pool = parallel ? startPool() : null;
        try {
            ClassLoader loader = Kernel.class.getClassLoader();
            List<Future<BuiltInModules.Found>> builtIns = new ArrayList<>();
            for (BuiltInModules.Named named : BuiltInModules.named(loader)) {
                Callable<BuiltInModules.Found> read = () -> BuiltInModules.read(loader, named, services);
                builtIns.add(pool != null ? pool.submit(read) : java.util.concurrent.CompletableFuture.completedFuture(read.call()));
            }
            if (!parallel) {
                registerBuiltIns(builtIns);
            }
            extender = new ContributionExtender(system, services, problems);
            extender.open();
            framework.start();
            long t3 = System.nanoTime();
            phases.put(parallel ? "felix" : "felix+built-ins", t3 - t2);
            installAndStart(system, options.bundleDirs(), pool);
            long t4 = System.nanoTime();
            phases.put("bundles", t4 - t3);
            if (parallel) {
                registerBuiltIns(builtIns);
                long t5 = System.nanoTime();
                phases.put("built-ins (wait)", t5 - t4);
                tensors.awaitReady();
                phases.put("engine (wait)", System.nanoTime() - t5);
            }
        } finally {
            if (pool != null) {
                pool.shutdownNow();
            }
        }
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

    /** Worker threads for the built-ins and bundles: one per core available, on the launcher's loader. */
    private static ExecutorService startPool() {
        int workers = Math.max(2, CpuBudget.detect().available());
        ClassLoader loader = Kernel.class.getClassLoader();
        java.util.concurrent.atomic.AtomicInteger n = new java.util.concurrent.atomic.AtomicInteger();
        return Executors.newFixedThreadPool(workers, r -> {
            Thread t = new Thread(r, "distill-kernel-start-" + n.incrementAndGet());
            t.setDaemon(true);
            t.setContextClassLoader(loader);
            return t;
        });
    }

    private void registerBuiltIns(List<Future<BuiltInModules.Found>> builtIns) throws Exception {
        for (Future<BuiltInModules.Found> f : builtIns) {
            BuiltInModules.Found found;
            try {
                found = f.get();
            } catch (ExecutionException e) {
                throw e.getCause() instanceof Exception ex ? ex : e;
            }
            found.contributions().forEach(c -> registry.registerBuiltIn(c, Version.KERNEL));
            builtInCosts.add(new StartCost(found.module(), 0, found.nanos(), found.contributions().size()));
        }
    }

    /**
     * Installs every jar of {@code dirs} (in name order), resolves them together, then starts them:
     * side by side on {@code pool} when it is given (Felix starts different bundles concurrently; each
     * start runs the extender's injector for that bundle), else one after another.
     */
    private void installAndStart(BundleContext system, List<Path> dirs, ExecutorService pool) throws IOException {
        List<Bundle> installed = new ArrayList<>();
        Map<Bundle, Long> installNanos = new HashMap<>();
        for (Path dir : dirs) {
            if (!Files.isDirectory(dir)) {
                continue;
            }
            List<Path> jars;
            try (Stream<Path> s = Files.list(dir)) {
                jars = s.filter(p -> p.toString().endsWith(".jar")).sorted(Comparator.naturalOrder()).toList();
            }
            for (Path jar : jars) {
                long t = System.nanoTime();
                try {
                    Bundle b = system.installBundle(jar.toUri().toString());
                    installed.add(b);
                    installNanos.put(b, System.nanoTime() - t);
                } catch (BundleException | RuntimeException e) {
                    problems.report(jar.getFileName().toString(), "install", e);
                }
            }
        }
        if (pool != null) {
            // one resolution for all, so concurrent starts do not each resolve under Felix's global lock
            framework.adapt(FrameworkWiring.class).resolveBundles(installed);
        }
        List<Bundle> startable = installed.stream().filter(b -> b.getHeaders().get(Constants.FRAGMENT_HOST) == null)
                .toList();
        List<Future<StartCost>> starts = new ArrayList<>();
        for (Bundle b : startable) {
            Callable<StartCost> start = () -> {
                long t = System.nanoTime();
                try {
                    b.start();
                } catch (BundleException | RuntimeException e) {
                    problems.report(BundleProblems.nameOf(b), "start", e);
                }
                return new StartCost(BundleProblems.nameOf(b), installNanos.getOrDefault(b, 0L), System.nanoTime() - t,
                        contributionsOf(b));
            };
            if (pool != null) {
                starts.add(pool.submit(start));
            } else {
                try {
                    starts.add(java.util.concurrent.CompletableFuture.completedFuture(start.call()));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }
        }
        for (Future<StartCost> f : starts) {
            try {
                bundleCosts.add(f.get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IOException("interrupted while starting bundles", e);
            } catch (ExecutionException e) {
                throw new IllegalStateException("starting a bundle failed unexpectedly", e.getCause());
            }
        }
    }

    /** Contributions a bundle has registered (services with a contribution kind). */
    private static int contributionsOf(Bundle b) {
        org.osgi.framework.ServiceReference<?>[] refs = b.getRegisteredServices();
        int n = 0;
        for (org.osgi.framework.ServiceReference<?> r : refs == null ? new org.osgi.framework.ServiceReference<?>[0] : refs) {
            n += r.getProperty(org.distillery.api.ContributionKind.KIND_PROPERTY) != null ? 1 : 0;
        }
        return n;
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

    /**
     * Start-up phases on the critical path, in order, in nanoseconds: with the default parallel start
     * {@code system-packages}, {@code felix}, {@code bundles}, then the time still spent waiting for
     * the built-in modules and for the engine (started at once on threads of their own); with a
     * sequential start {@code engine}, {@code system-packages}, {@code felix+built-ins}, {@code bundles}.
     */
    public java.util.Map<String, Long> startupPhases() {
        return java.util.Collections.unmodifiableMap(phases);
    }

    /** What each bundle's install and start cost, in the order they were installed. */
    public List<StartCost> bundleCosts() {
        return List.copyOf(bundleCosts);
    }

    /** What reading each built-in module cost. */
    public List<StartCost> builtInCosts() {
        return List.copyOf(builtInCosts);
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
