package org.distillery.kernel.cli;

import java.io.InputStream;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import org.distillery.api.ContributionKind;
import org.distillery.api.loss.LossFactory;
import org.distillery.kernel.Kernel;
import org.osgi.framework.Bundle;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code distill bench ...}: measured figures, printed; nothing here asserts a time. */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Print measured performance figures.",
        subcommands = {BenchCommand.KernelBench.class})
final class BenchCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        new picocli.CommandLine(this).usage(System.out);
        return ExitCodes.OK;
    }

    /** {@code distill bench kernel}. */
    @Command(name = "kernel", mixinStandardHelpOptions = true,
            description = "Cold start to ready (engine start included) and hot-swap latency of a loss bundle.")
    static final class KernelBench implements Callable<Integer> {
        @Option(names = "--swaps", description = "bundle updates to time (default 20)")
        int swaps = 20;

        @Option(names = "--loss", description = "loss key whose bundle is updated (default kd.forward-kl)")
        String key = "kd.forward-kl";

        @Override
        public Integer call() throws Exception {
            long jvmStart = ManagementFactory.getRuntimeMXBean().getStartTime();
            try (Kernel kernel = Distill.boot("cpu")) {
                long sinceJvm = System.currentTimeMillis() - jvmStart;
                System.out.printf(Locale.ROOT, "kernel ready: %.0f ms (engine + Felix + %d bundles); %d ms since JVM start%n",
                        kernel.readyNanos() / 1e6, kernel.bundles().size(), sinceJvm);
                kernel.startupPhases().forEach((phase, nanos) -> System.out.printf(Locale.ROOT,
                        "  %-16s %7.0f ms  %5.1f%% of ready%n", phase, nanos / 1e6, 100.0 * nanos / kernel.readyNanos()));
                var first = kernel.registry().find(ContributionKind.LOSS, key, LossFactory.class);
                if (first.isEmpty()) {
                    System.out.println("no bundle provides " + key + "; hot-swap latency not measured");
                    return ExitCodes.FAILED;
                }
                Bundle provider = null;
                for (Bundle b : kernel.bundles()) {
                    if (first.get().info().bundle().equals(b.getSymbolicName())) {
                        provider = b;
                    }
                }
                byte[] jar = Files.readAllBytes(Path.of(URI.create(provider.getLocation())));
                List<Double> millis = new ArrayList<>();
                Object previous = first.get().factory();
                for (int i = 0; i < swaps; i++) {
                    long t0 = System.nanoTime();
                    try (InputStream in = new java.io.ByteArrayInputStream(jar)) {
                        provider.update(in);
                    }
                    Object now;
                    while ((now = kernel.registry().find(ContributionKind.LOSS, key, LossFactory.class)
                            .map(c -> (Object) c.factory()).orElse(null)) == null || now == previous) {
                        Thread.onSpinWait();
                    }
                    millis.add((System.nanoTime() - t0) / 1e6);
                    previous = now;
                }
                Collections.sort(millis);
                System.out.printf(Locale.ROOT, "hot swap (bundle update -> new %s in registry), %d updates: "
                        + "median %.1f ms, min %.1f ms, max %.1f ms%n", key, swaps, millis.get(millis.size() / 2),
                        millis.get(0), millis.get(millis.size() - 1));
                System.out.println("a run resolves its losses at every step boundary, so a swap takes effect at the "
                        + "first step that starts after it is visible");
            }
            return ExitCodes.OK;
        }
    }
}
