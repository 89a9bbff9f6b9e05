package org.distillery.kernel.osgi;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleException;
import org.osgi.framework.wiring.FrameworkWiring;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches a drop-in folder: a new {@code *.jar} is installed and started, a changed one
 * updates its bundle, a removed one uninstalls it; then wiring is refreshed so the old class
 * loader goes. A file is acted on only when its size and time were the same on two
 * consecutive polls, so a jar still being copied is left alone (writing {@code x.jar.tmp}
 * and renaming is best). Failures are reported and the kernel goes on.
 */
public final class DropInWatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(DropInWatcher.class);
    private static final String LOCATION_PREFIX = "drop-in:";

    private record Stamp(long size, long modified) {
    }

    private final BundleContext context;
    private final Path folder;
    private final BundleProblems problems;
    private final Map<Path, Stamp> applied = new HashMap<>();
    private final Map<Path, Stamp> seen = new HashMap<>();
    private final ScheduledExecutorService executor;
    /** Runs installs, updates and uninstalls, so one that hangs (a bundle's stop) does not stop the watcher. */
    private final ExecutorService operations;

    /**
     * Creates a watcher; call {@link #start(long)} to poll.
     *
     * @param context the system bundle's context
     * @param folder the drop-in folder, created if absent
     * @param problems where failures are reported
     */
    public DropInWatcher(BundleContext context, Path folder, BundleProblems problems) throws IOException {
        this.context = context;
        this.folder = Files.createDirectories(folder);
        this.problems = problems;
        this.executor = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "distillery-drop-in");
            t.setDaemon(true);
            return t;
        });
        this.operations = Executors.newCachedThreadPool(r -> {
            Thread t = new Thread(r, "distillery-bundle-operation");
            t.setDaemon(true);
            return t;
        });
    }

    /** How long the watcher waits for one bundle operation before it goes on (the operation keeps running). */
    static final long OPERATION_TIMEOUT_MS = 30_000;

    /**
     * Runs {@code op} on its own thread and waits at most {@link #OPERATION_TIMEOUT_MS}; one that
     * takes longer (a bundle whose stop hangs) is reported and left running.
     */
    private boolean bounded(String what, Path jar, java.util.concurrent.Callable<Boolean> op) {
        java.util.concurrent.Future<Boolean> f = operations.submit(op);
        try {
            return f.get(OPERATION_TIMEOUT_MS, TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException e) {
            problems.report(jar.getFileName().toString(), what, new IllegalStateException(what + " of " + jar
                    + " has not finished after " + OPERATION_TIMEOUT_MS / 1000 + " s; the drop-in folder is watched on"));
            return false;
        } catch (java.util.concurrent.ExecutionException e) {
            problems.report(jar.getFileName().toString(), what, e.getCause());
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    /** The watched folder. */
    public Path folder() {
        return folder;
    }

    /** Installs what is there now, then polls every {@code pollMillis}. */
    public void start(long pollMillis) {
        scanNow(true);
        executor.scheduleWithFixedDelay(() -> scanNow(false), pollMillis, pollMillis, TimeUnit.MILLISECONDS);
    }

    /** One scan. With {@code initial}, files are taken as they are, without waiting for a stable second look. */
    synchronized void scanNow(boolean initial) {
        Map<Path, Stamp> now = new HashMap<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(folder, "*.jar")) {
            for (Path p : ds) {
                now.put(p.toAbsolutePath(), new Stamp(Files.size(p), Files.getLastModifiedTime(p).toMillis()));
            }
        } catch (IOException e) {
            LOG.warn("cannot read drop-in folder {}: {}", folder, e.toString());
            return;
        }
        boolean changed = false;
        for (Map.Entry<Path, Stamp> e : now.entrySet()) {
            Path jar = e.getKey();
            Stamp stamp = e.getValue();
            boolean stable = initial || stamp.equals(seen.get(jar));
            if (stable && !stamp.equals(applied.get(jar))) {
                changed |= applied.containsKey(jar) ? bounded("update", jar, () -> update(jar))
                        : bounded("install", jar, () -> install(jar));
                applied.put(jar, stamp);
            }
        }
        Set<Path> gone = new HashSet<>(applied.keySet());
        gone.removeAll(now.keySet());
        for (Path jar : gone) {
            changed |= bounded("uninstall", jar, () -> uninstall(jar));
            applied.remove(jar);
        }
        seen.clear();
        seen.putAll(now);
        if (changed) {
            refresh();
        }
    }

    private boolean install(Path jar) {
        Bundle bundle = null;
        try (InputStream in = Files.newInputStream(jar)) {
            bundle = context.installBundle(location(jar), in);
            problems.clear(BundleProblems.nameOf(bundle));
            if (bundle.getHeaders().get("Fragment-Host") == null) {
                bundle.start();
            }
            LOG.info("drop-in: installed {} {}", BundleProblems.nameOf(bundle), bundle.getVersion());
            return false;
        } catch (IOException | BundleException | RuntimeException e) {
            problems.report(bundle != null ? BundleProblems.nameOf(bundle) : jar.getFileName().toString(),
                    bundle != null ? "start" : "install", e);
            return false;
        }
    }

    private boolean update(Path jar) {
        Bundle bundle = context.getBundle(location(jar));
        if (bundle == null) {
            install(jar);
            return true;
        }
        try (InputStream in = Files.newInputStream(jar)) {
            bundle.update(in);
            problems.clear(BundleProblems.nameOf(bundle));
            if (bundle.getState() != Bundle.ACTIVE && bundle.getHeaders().get("Fragment-Host") == null) {
                bundle.start();
            }
            LOG.info("drop-in: updated {} to {}", BundleProblems.nameOf(bundle), bundle.getVersion());
        } catch (IOException | BundleException | RuntimeException e) {
            problems.report(BundleProblems.nameOf(bundle), "update", e);
        }
        return true;
    }

    private boolean uninstall(Path jar) {
        Bundle bundle = context.getBundle(location(jar));
        if (bundle == null) {
            return false;
        }
        try {
            bundle.uninstall();
            problems.clear(BundleProblems.nameOf(bundle));
            LOG.info("drop-in: uninstalled {}", BundleProblems.nameOf(bundle));
        } catch (BundleException | RuntimeException e) {
            problems.report(BundleProblems.nameOf(bundle), "uninstall", e);
        }
        return true;
    }

    private void refresh() {
        FrameworkWiring wiring = context.getBundle(0).adapt(FrameworkWiring.class);
        wiring.refreshBundles(null);
    }

    private static String location(Path jar) {
        return LOCATION_PREFIX + jar.toAbsolutePath();
    }

    /** Bundles this watcher installed, by jar. */
    public synchronized List<Path> jars() {
        return List.copyOf(applied.keySet());
    }

    @Override
    public void close() {
        executor.shutdownNow();
        operations.shutdownNow();
    }
}
