package org.distillery.kernel.bench;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarInputStream;
import java.util.jar.JarOutputStream;
import java.util.jar.Manifest;

import com.typesafe.config.Config;

import org.distillery.api.ContributionKind;
import org.distillery.api.loss.LossFactory;
import org.distillery.kernel.Kernel;
import org.distillery.kernel.run.Run;
import org.distillery.kernel.run.RunManager;
import org.osgi.framework.Bundle;

/**
 * The in-process parts of {@code distill bench soak}: a run whose loss bundle is updated 100
 * times (alternating two versions) while it trains, and a long run whose heap and native memory
 * are sampled after a garbage collection every 100 steps. Both print figures; nothing asserts.
 */
public final class Soak {

    private Soak() {
    }

    /** A run executing on its own thread, its event records collected. */
    private static final class Background implements AutoCloseable {
        final Run run;
        final List<Map<String, Object>> events = Collections.synchronizedList(new ArrayList<>());
        final CompletableFuture<RunManager.Outcome> outcome;

        Background(RunManager runs, Kernel kernel, Config experiment) throws IOException {
            this.run = runs.create(runs.validate(experiment));
            run.eventLog().listen(events::add);
            this.outcome = CompletableFuture.supplyAsync(() -> {
                kernel.tensors().attachThread();
                try {
                    return runs.execute(run);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
        }

        List<Map<String, Object>> ofType(String type) {
            synchronized (events) {
                return events.stream().filter(e -> type.equals(e.get("type"))).toList();
            }
        }

        boolean await(Predicate<Background> condition, long millis) throws InterruptedException {
            long deadline = System.currentTimeMillis() + millis;
            while (!condition.test(this)) {
                if (System.currentTimeMillis() > deadline || outcome.isDone()) {
                    return condition.test(this);
                }
                Thread.sleep(20);
            }
            return true;
        }

        @Override
        public void close() throws Exception {
            run.requestStop("soak finished");
            try {
                outcome.join();
            } finally {
                run.close();
            }
        }
    }

    /** The same jar with another {@code Bundle-Version}. */
    static byte[] withVersion(byte[] jar, String version) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream(jar.length + 256);
        try (JarInputStream in = new JarInputStream(new ByteArrayInputStream(jar))) {
            Manifest mf = new Manifest(in.getManifest());
            mf.getMainAttributes().put(new Attributes.Name("Bundle-Version"), version);
            try (JarOutputStream jos = new JarOutputStream(out, mf)) {
                for (JarEntry e; (e = in.getNextJarEntry()) != null; ) {
                    jos.putNextEntry(new JarEntry(e.getName()));
                    in.transferTo(jos);
                    jos.closeEntry();
                }
            }
        }
        return out.toByteArray();
    }

    /**
     * Updates the bundle providing {@code lossKey} {@code updates} times, alternating its own
     * version and a copy re-versioned {@code <version>.soak}, while {@code experiment} (which trains
     * with that loss) runs; each update waits until the run has swapped to it and taken a step.
     *
     * @return whether every criterion held: every update seen, steps contiguous, none failed or skipped
     */
    public static boolean bundleUpdates(PrintStream out, Kernel kernel, Config experiment, String lossKey, int updates)
            throws Exception {
        var first = kernel.registry().find(ContributionKind.LOSS, lossKey, LossFactory.class).orElseThrow(
                () -> new IllegalArgumentException("no bundle provides " + lossKey));
        Bundle provider = kernel.bundles().stream().filter(b -> first.info().bundle().equals(b.getSymbolicName()))
                .findFirst().orElseThrow();
        byte[] original = Files.readAllBytes(Path.of(URI.create(provider.getLocation())));
        String v1 = provider.getVersion().toString();
        String v2 = provider.getVersion().getMajor() + "." + provider.getVersion().getMinor() + "."
                + provider.getVersion().getMicro() + ".soak";
        byte[] other = withVersion(original, v2);
        RunManager runs = new RunManager(kernel);
        long t0 = System.nanoTime();
        int seen = 0;
        List<Double> swapMillis = new ArrayList<>();
        try (Background bg = new Background(runs, kernel, experiment)) {
            if (!bg.await(b -> !b.ofType("step").isEmpty(), 600_000)) {
                out.println("the run took no step; events: " + bg.events);
                return false;
            }
            for (int i = 0; i < updates; i++) {
                String version = i % 2 == 0 ? v2 : v1;
                int swapsBefore = bg.ofType("loss-swap").size();
                long u0 = System.nanoTime();
                try (InputStream in = new ByteArrayInputStream(i % 2 == 0 ? other : original)) {
                    provider.update(in);
                }
                String coordinates = lossKey + "@" + first.info().bundle() + "/" + version;
                boolean swapped = bg.await(b -> {
                    List<Map<String, Object>> swaps = b.ofType("loss-swap");
                    return swaps.size() > swapsBefore && coordinates.equals(swaps.get(swaps.size() - 1).get("new"));
                }, 120_000);
                if (swapped) {
                    swapMillis.add((System.nanoTime() - u0) / 1e6);
                    int steps = bg.ofType("step").size();
                    swapped = bg.await(b -> b.ofType("step").size() > steps, 120_000);
                }
                if (!swapped) {
                    out.println("update " + (i + 1) + " to " + version + ": the run did not swap and step within 120 s");
                    break;
                }
                seen++;
            }
            bg.run.requestStop("soak finished");
            bg.outcome.join();
            List<Map<String, Object>> steps = bg.ofType("step");
            boolean contiguous = true;
            int skipped = 0;
            for (int i = 0; i < steps.size(); i++) {
                contiguous &= ((Number) steps.get(i).get("step")).longValue() == i + 1;
                skipped += steps.get(i).containsKey("skipped") ? 1 : 0;
            }
            int missing = bg.ofType("loss-missing").size();
            List<Map<String, Object>> stopping = bg.ofType("stopping");
            boolean failed = !stopping.isEmpty() || !bg.ofType("run-failed").isEmpty();
            Collections.sort(swapMillis);
            out.printf(Locale.ROOT, "bundle updates during one run: %d updates of %s (%s <-> %s), %d seen by the run "
                    + "at its next step%n", updates, first.info().bundle(), v1, v2, seen);
            out.printf(Locale.ROOT, "  %d steps in %.1f s, step numbers contiguous: %s, failed steps: %d, skipped steps: "
                    + "%d, waits for a vanished loss: %d%n", steps.size(), (System.nanoTime() - t0) / 1e9,
                    contiguous ? "yes" : "NO", failed ? 1 : 0, skipped, missing);
            if (!swapMillis.isEmpty()) {
                out.printf(Locale.ROOT, "  update -> first step with the new version: median %.0f ms, max %.0f ms%n",
                        swapMillis.get(swapMillis.size() / 2), swapMillis.get(swapMillis.size() - 1));
            }
            boolean ok = seen == updates && contiguous && skipped == 0 && !failed;
            out.println("  goal (every update used, 0 failed or skipped steps, contiguous steps): "
                    + (ok ? "met" : "NOT met"));
            return ok;
        }
    }

    /**
     * Runs {@code experiment} for its {@code train.steps}, sampling the Java heap in use and the
     * native heap in use (glibc's, else the engine's figure) after a full collection every
     * {@code every} steps, and prints the growth after {@code warmup} steps.
     *
     * @return whether both grew less than {@code maxGrowth} (a fraction) after the warm-up, median of
     *         the last quarter of the samples against the median of the first
     */
    public static boolean memory(PrintStream out, Kernel kernel, Config experiment, int every, int warmup,
                                 double maxGrowth) throws Exception {
        var malloc = MallocMemory.open();
        Map<Long, long[]> samples = Collections.synchronizedMap(new LinkedHashMap<>());
        RunManager runs = new RunManager(kernel);
        Run run = runs.create(runs.validate(experiment));
        run.eventLog().listen(rec -> {
            if ("step".equals(rec.get("type")) && ((Number) rec.get("step")).longValue() % every == 0) {
                long step = ((Number) rec.get("step")).longValue();
                for (int i = 0; i < 3; i++) {
                    System.gc();
                    try {
                        Thread.sleep(20);
                    } catch (InterruptedException e) {
                        Thread.currentThread().interrupt();
                    }
                }
                long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
                long nativeBytes = malloc.map(MallocMemory::inUse).orElseGet(() -> kernel.tensors().memory().hostBytes());
                samples.put(step, new long[] {heap, nativeBytes, kernel.tensors().tensorBytes()});
            }
        });
        long t0 = System.nanoTime();
        RunManager.Outcome o;
        try (run) {
            o = runs.execute(run);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        out.printf(Locale.ROOT, "memory over a %d-step run (%.0f s; sampled after a full GC every %d steps; native = %s):%n",
                experiment.getLong("train.steps"), seconds, every, malloc.isPresent() ? "glibc heap in use"
                        : "engine figure");
        out.println("     step    java heap MB    native MB    live arrays MB");
        samples.forEach((step, v) -> out.printf(Locale.ROOT, "  %7d    %12.1f    %9.1f    %14.1f%n", step, v[0] / 1e6,
                v[1] / 1e6, v[2] / 1e6));
        long[] base = samples.get((long) warmup);
        long[] last = samples.get(experiment.getLong("train.steps"));
        if (!o.completed() || base == null || last == null) {
            out.println("  the run did not complete or was not sampled at steps " + warmup + " and the last");
            return false;
        }
        double maxHeap = 0;
        double maxNative = 0;
        List<long[]> after = new ArrayList<>();
        for (Map.Entry<Long, long[]> e : samples.entrySet()) {
            if (e.getKey() > warmup) {
                maxHeap = Math.max(maxHeap, (e.getValue()[0] - base[0]) / (double) base[0]);
                maxNative = Math.max(maxNative, (e.getValue()[1] - base[1]) / (double) base[1]);
            }
            if (e.getKey() >= warmup) {
                after.add(e.getValue());
            }
        }
        double heapGrowth = (last[0] - base[0]) / (double) base[0];
        double nativeGrowth = (last[1] - base[1]) / (double) base[1];
        out.printf(Locale.ROOT, "  growth from step %d to %d: java heap %+.2f%% (largest %+.2f%%), native %+.2f%% "
                + "(largest %+.2f%%), live arrays %+.2f%%%n", warmup, experiment.getLong("train.steps"),
                100 * heapGrowth, 100 * maxHeap, 100 * nativeGrowth, 100 * maxNative,
                100.0 * (last[2] - base[2]) / Math.max(1, base[2]));
        // one sample can catch the allocator mid-step (a spike that is gone at the next): the goal
        // compares the median of the first and of the last quarter of the samples after the warm-up
        int quarter = Math.max(1, after.size() / 4);
        double heapTrend = trend(after, 0, quarter);
        double nativeTrend = trend(after, 1, quarter);
        out.printf(Locale.ROOT, "  median of the last %d samples against the first %d after warm-up: java heap %+.2f%%, "
                + "native %+.2f%%%n", quarter, quarter, 100 * heapTrend, 100 * nativeTrend);
        boolean ok = heapTrend < maxGrowth && nativeTrend < maxGrowth;
        out.printf(Locale.ROOT, "  goal (heap and native growth after warm-up < %.0f%%): %s%n", 100 * maxGrowth,
                ok ? "met" : "NOT met");
        return ok;
    }

    /** Growth of the median of the last {@code n} samples' column over the median of the first {@code n}. */
    private static double trend(List<long[]> samples, int column, int n) {
        double first = median(samples.subList(0, n), column);
        double last = median(samples.subList(samples.size() - n, samples.size()), column);
        return (last - first) / first;
    }

    private static double median(List<long[]> samples, int column) {
        long[] v = samples.stream().mapToLong(s -> s[column]).sorted().toArray();
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2.0;
    }
}
