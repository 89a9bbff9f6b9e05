package org.distillery.kernel.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.typesafe.config.Config;

import org.distillery.kernel.config.ExperimentException;
import org.distillery.tensor.CpuBudget;
import org.distillery.tensor.DjlTensorService;
import org.distillery.tensor.NativeMemory;
import org.distillery.tensor.ThreadPolicy;
import org.distillery.tensor.ThreadSettings;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code distill doctor}: what this installation computes with and why: the engine and its version,
 * where libtorch was loaded from and which build it is (the CPU distribution's bundled build, or the
 * one DJL resolved for the CUDA distribution), the device and why a GPU was or was not used, the
 * thread counts and where they came from, the cores available and the load on them.
 */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = {"Print the engine, its version, the native library in use, the device and why a GPU was or was "
            + "not used, PyTorch's thread counts and why, the cores available and the load average.",
            "With an experiment, device and threads are resolved as `distill run` would resolve them."})
final class DoctorCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "<experiment|file>",
            description = "resolve device and threads as this experiment would (default: auto, from the environment)")
    String experiment;

    @Option(names = "--set", paramLabel = "path=value", description = "override a config value (repeatable)")
    List<String> sets = new ArrayList<>();

    @Option(names = "--device", description = "auto, cpu, gpu or gpu:N (default auto, or the experiment's)")
    String device;

    @Override
    public Integer call() {
        String spec = "auto";
        ThreadSettings threads;
        if (experiment != null) {
            Config c = Distill.load(experiment, sets);
            spec = Distill.deviceOf(c);
            threads = Distill.threadsOf(c);
        } else {
            threads = ThreadPolicy.resolve(null);
        }
        if (device != null) {
            spec = device;
        }
        try {
            DjlTensorService.checkSpec(spec);
        } catch (IllegalArgumentException e) {
            throw new ExperimentException(List.of("--device: " + e.getMessage()));
        }
        String v = Distill.class.getPackage().getImplementationVersion();
        System.out.printf(Locale.ROOT, "distill   %s on Java %s (%s), %s %s %s%n", v == null ? "dev" : v,
                System.getProperty("java.version"), System.getProperty("java.vendor"), System.getProperty("os.name"),
                System.getProperty("os.version"), System.getProperty("os.arch"));
        System.out.println("home      " + Home.get());
        CpuBudget budget = CpuBudget.detect();
        try (DjlTensorService tensors = DjlTensorService.start(spec, threads)) {
            tensors.describe().forEach(System.out::println);
            System.out.printf(Locale.ROOT, "cores     %s; load average %s%n", budget.describe(),
                    budget.loadAverage() < 0 ? "unknown" : String.format(Locale.ROOT, "%.2f", budget.loadAverage()));
            long heap = Runtime.getRuntime().maxMemory();
            long rss = NativeMemory.inUse();
            System.out.printf(Locale.ROOT, "memory    Java heap max %.1f GiB; anonymous resident %.0f MiB now%n",
                    heap / (double) (1L << 30), rss < 0 ? Double.NaN : rss / (double) (1L << 20));
            System.out.printf(Locale.ROOT, "offline   ai.djl.offline=%s (DJL %s download libtorch)%n",
                    System.getProperty("ai.djl.offline", "false"),
                    Boolean.parseBoolean(System.getProperty("ai.djl.offline", "false")) ? "may not" : "may");
        }
        return ExitCodes.OK;
    }
}
