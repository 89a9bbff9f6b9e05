package org.distillery.kernel.osgi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.net.URL;
import java.time.Duration;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import org.junit.jupiter.api.Test;
import org.osgi.framework.Bundle;
import org.osgi.framework.BundleContext;
import org.osgi.framework.BundleEvent;
import org.osgi.framework.Version;

class BundleWatchdogTest {

    /** Stands for a class of the watched bundle. */
    static final class BundleCode {
        /** A thread body of the bundle's own: its entry point is this class. */
        static Runnable worker(CountDownLatch end) {
            return () -> loop(end);
        }

        static void loop(CountDownLatch end) {
            try {
                end.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private static Bundle bundle() throws Exception {
        URL entry = new URL("file:/" + BundleCode.class.getName().replace('.', '/') + ".class");
        return (Bundle) Proxy.newProxyInstance(Bundle.class.getClassLoader(), new Class<?>[] {Bundle.class},
                (p, m, a) -> switch (m.getName()) {
                    case "getBundleId" -> 7L;
                    case "getVersion" -> new Version(1, 0, 0);
                    case "getSymbolicName" -> "org.acme.watched";
                    case "getLocation" -> "file:watched.jar";
                    case "findEntries" -> Collections.enumeration(List.of(entry));
                    case "hashCode" -> System.identityHashCode(p);
                    case "equals" -> p == a[0];
                    default -> null;
                });
    }

    private static BundleContext context() {
        return (BundleContext) Proxy.newProxyInstance(BundleContext.class.getClassLoader(),
                new Class<?>[] {BundleContext.class}, (p, m, a) -> null);
    }

    private static Thread started(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private static void awaitIn(Thread t) throws InterruptedException {
        for (int i = 0; i < 200 && !t.getState().equals(Thread.State.WAITING); i++) {
            Thread.sleep(10);
        }
    }

    @Test
    void reportsOnlyThreadsTheBundleStartedBeforeItsStop() throws Exception {
        BundleProblems problems = new BundleProblems();
        CountDownLatch end = new CountDownLatch(1);
        Bundle b = bundle();
        try (BundleWatchdog dog = new BundleWatchdog(context(), problems, Duration.ofSeconds(30), Duration.ofMillis(200))) {
            Thread own = started("own-worker", BundleCode.worker(end));
            // a thread of someone else that calls into the bundle (a run holding the old loss)
            Thread caller = started("a-run", () -> BundleWatchdogTest.callInto(end));
            awaitIn(own);
            awaitIn(caller);
            dog.bundleChanged(new BundleEvent(BundleEvent.STOPPING, b));
            dog.bundleChanged(new BundleEvent(BundleEvent.STOPPED, b));
            // the next version's thread, same class names, started after the stop
            Thread next = started("next-version-worker", BundleCode.worker(end));
            awaitIn(next);
            Thread.sleep(1000);
            List<BundleProblems.Problem> all = problems.all();
            assertEquals(1, all.size(), all.toString());
            String reason = all.get(0).reason();
            assertEquals("org.acme.watched", all.get(0).bundle());
            assertEquals(BundleProblems.STOP, all.get(0).phase());
            assertTrue(reason.contains("1 thread(s) of version 1.0.0") && reason.contains("'own-worker' at ")
                    && reason.contains(BundleCode.class.getName() + ".loop("), reason);
            assertTrue(!reason.contains("a-run") && !reason.contains("next-version-worker"), reason);
        } finally {
            end.countDown();
        }
    }

    private static void callInto(CountDownLatch end) {
        BundleCode.loop(end);
    }

    @Test
    void aStopThatDoesNotReturnIsReportedWithItsPlace() throws Exception {
        BundleProblems problems = new BundleProblems();
        CountDownLatch end = new CountDownLatch(1);
        Bundle b = bundle();
        try (BundleWatchdog dog = new BundleWatchdog(context(), problems, Duration.ofMillis(200), Duration.ofMillis(200))) {
            // the STOPPING event is delivered on the thread that runs the stop, which then hangs in the bundle
            Thread stopper = started("stopper", () -> {
                dog.bundleChanged(new BundleEvent(BundleEvent.STOPPING, b));
                BundleCode.loop(end);
            });
            awaitIn(stopper);
            Thread.sleep(1000);
            List<BundleProblems.Problem> all = problems.all();
            assertEquals(1, all.size(), all.toString());
            String reason = all.get(0).reason();
            assertTrue(reason.contains("stop of version 1.0.0 has not returned after 200 ms")
                    && reason.contains("'stopper' at ")
                    && reason.contains(BundleCode.class.getName() + ".loop("), reason);
        } finally {
            end.countDown();
        }
    }
}
