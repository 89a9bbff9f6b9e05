package org.distillery.kernel.osgi;

import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.SynchronousBundleListener;

/**
 * Watches bundles stop, as an update, an uninstall, the shell's {@code stop} or the kernel's
 * shutdown stops them. Two faults are reported (phase {@code stop}, shown by {@code distill list}
 * and {@code distill:problems}) without holding anything up:
 * <ul>
 *   <li>a stop that has not returned after the stop timeout (an activator's {@code stop} that
 *       hangs), with the stuck thread's place in the bundle's code;</li>
 *   <li>threads the bundle started that still run a grace period after it stopped (threads it
 *       never ended), by name and place.</li>
 * </ul>
 * A thread was started by a bundle when its entry point, the outermost frame outside the JDK,
 * belongs to a class of the bundle, and it was alive when the stop began. Threads that merely
 * call into the bundle (a run's thread still holding the old version's loss until its next
 * step) are not its own, and neither are threads the next version starts under the same class
 * names after an update.
 */
public final class BundleWatchdog implements SynchronousBundleListener, AutoCloseable {

    /** A stop in progress. */
    private record Stopping(Thread thread, String version, Set<String> classes, Set<Thread> started) {
    }

    private final BundleContext context;
    private final BundleProblems problems;
    private final Duration stopTimeout;
    private final Duration grace;
    private final Map<Long, Stopping> stopping = new ConcurrentHashMap<>();
    private final ScheduledExecutorService timer;

    /**
     * Creates and registers the watchdog.
     *
     * @param context the system bundle's context
     * @param problems where faults are reported
     * @param stopTimeout how long a bundle's stop may take before it is reported as hanging
     * @param grace how long after a stop the bundle's threads may take to end
     */
    public BundleWatchdog(BundleContext context, BundleProblems problems, Duration stopTimeout, Duration grace) {
        this.context = context;
        this.problems = problems;
        this.stopTimeout = stopTimeout;
        this.grace = grace;
        this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "distillery-bundle-watchdog");
            t.setDaemon(true);
            return t;
        });
        context.addBundleListener(this);
    }

    @Override
    public void bundleChanged(BundleEvent event) {
        Bundle b = event.getBundle();
        if (b.getBundleId() == 0) {
            return;
        }
        if (event.getType() == BundleEvent.STOPPING) {
            Set<String> classes = classesOf(b);
            Stopping s = new Stopping(Thread.currentThread(), b.getVersion().toString(), classes, startedBy(classes));
            stopping.put(b.getBundleId(), s);
            timer.schedule(() -> checkHung(b, s), stopTimeout.toMillis(), TimeUnit.MILLISECONDS);
        } else if (event.getType() == BundleEvent.STOPPED) {
            Stopping s = stopping.remove(b.getBundleId());
            if (s != null && !s.classes().isEmpty()) {
                String name = BundleProblems.nameOf(b);
                timer.schedule(() -> checkLeaks(name, s), grace.toMillis(), TimeUnit.MILLISECONDS);
            }
        }
    }

    private void checkHung(Bundle b, Stopping s) {
        if (stopping.get(b.getBundleId()) != s) {
            return;
        }
        problems.report(BundleProblems.nameOf(b), BundleProblems.STOP, new IllegalStateException("stop of version "
                + s.version() + " has not returned after " + seconds(stopTimeout) + " (thread '"
                + s.thread().getName() + "' at " + place(s.thread().getStackTrace(), s.classes())
                + "); the kernel goes on without it"));
    }

    private void checkLeaks(String name, Stopping s) {
        List<String> leaked = new ArrayList<>();
        for (Thread t : s.started()) {
            if (t.isAlive()) {
                leaked.add("'" + t.getName() + "' at " + place(t.getStackTrace(), s.classes()));
            }
        }
        if (!leaked.isEmpty()) {
            problems.report(name, BundleProblems.STOP, new IllegalStateException(leaked.size() + " thread(s) of version "
                    + s.version() + " still running " + seconds(grace) + " after it stopped: "
                    + String.join(", ", leaked) + " (threads a bundle starts must end in its stop)"));
        }
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    /** The live threads whose entry point is one of these classes. */
    private static Set<Thread> startedBy(Set<String> classes) {
        Set<Thread> out = new HashSet<>();
        if (classes.isEmpty()) {
            return out;
        }
        for (Map.Entry<Thread, StackTraceElement[]> e : Thread.getAllStackTraces().entrySet()) {
            StackTraceElement[] stack = e.getValue();
            for (int i = stack.length - 1; i >= 0; i--) {
                String c = stack[i].getClassName();
                if (!jdk(c)) {
                    if (classes.contains(outer(c))) {
                        out.add(e.getKey());
                    }
                    break;
                }
            }
        }
        return out;
    }

    private static boolean jdk(String className) {
        return className.startsWith("java.") || className.startsWith("javax.") || className.startsWith("jdk.")
                || className.startsWith("sun.") || className.startsWith("com.sun.");
    }

    /** The first frame in the bundle's code, else the top frame. */
    private static String place(StackTraceElement[] stack, Set<String> classes) {
        for (StackTraceElement f : stack) {
            if (classes.contains(outer(f.getClassName()))) {
                return f.toString();
            }
        }
        return stack.length == 0 ? "?" : stack[0].toString();
    }

    /** A class name without its lambda or hidden-class suffix. */
    private static String outer(String className) {
        int lambda = className.indexOf("$$Lambda");
        String c = lambda >= 0 ? className.substring(0, lambda) : className;
        int slash = c.indexOf('/');
        return slash >= 0 ? c.substring(0, slash) : c;
    }

    /** The classes a bundle contains, by binary name. */
    private static Set<String> classesOf(Bundle b) {
        Set<String> out = new HashSet<>();
        try {
            Enumeration<URL> entries = b.findEntries("/", "*.class", true);
            while (entries != null && entries.hasMoreElements()) {
                String path = entries.nextElement().getPath();
                if (path.startsWith("/")) {
                    path = path.substring(1);
                }
                if (!path.startsWith("META-INF/")) {
                    out.add(path.substring(0, path.length() - ".class".length()).replace('/', '.'));
                }
            }
        } catch (IllegalStateException uninstalled) {
            // nothing to inspect
        }
        return out;
    }

    @Override
    public void close() {
        try {
            context.removeBundleListener(this);
        } catch (IllegalStateException stopped) {
            // the framework is gone already
        }
        timer.shutdownNow();
    }
}
