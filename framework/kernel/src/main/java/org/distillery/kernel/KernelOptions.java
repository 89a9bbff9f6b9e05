package org.distillery.kernel;

import java.nio.file.Path;
import java.util.List;

import org.distillery.tensor.ThreadPolicy;
import org.distillery.tensor.ThreadSettings;

/**
 * How to boot the kernel.
 *
 * @param home the distribution folder ({@code bin/}, {@code lib/}, {@code bundles/}, {@code config/}, {@code drop-in/})
 * @param bundleDirs folders whose jars are installed and started at boot, in order
 * @param dropIn the watched drop-in folder, or {@code null} to watch none
 * @param device {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
 * @param interactiveShell start Gogo's console on standard input
 * @param pollMillis drop-in poll interval
 * @param threads PyTorch's thread counts ({@link ThreadPolicy})
 * @param parallelStart start the engine, the built-in modules and the bundles side by side (the
 *     default); {@code false} does one after another, as the kernel did before (for the benchmark)
 */
public record KernelOptions(Path home, List<Path> bundleDirs, Path dropIn, String device, boolean interactiveShell,
                            long pollMillis, ThreadSettings threads, boolean parallelStart) {

    /** The layout of a distribution at {@code home}; threads from the environment. */
    public static KernelOptions forHome(Path home, String device) {
        return forHome(home, device, ThreadPolicy.resolve(null));
    }

    /** The layout of a distribution at {@code home} with these threads. */
    public static KernelOptions forHome(Path home, String device, ThreadSettings threads) {
        return new KernelOptions(home, List.of(home.resolve("bundles")), home.resolve("drop-in"), device, false, 250,
                threads, true);
    }

    /** A copy with the interactive shell on or off. */
    public KernelOptions withShell(boolean shell) {
        return new KernelOptions(home, bundleDirs, dropIn, device, shell, pollMillis, threads, parallelStart);
    }

    /** A copy that installs the bundles of these folders. */
    public KernelOptions withBundleDirs(List<Path> dirs) {
        return new KernelOptions(home, List.copyOf(dirs), dropIn, device, interactiveShell, pollMillis, threads,
                parallelStart);
    }

    /** A copy that starts side by side ({@code true}) or one thing after another. */
    public KernelOptions withParallelStart(boolean parallel) {
        return new KernelOptions(home, bundleDirs, dropIn, device, interactiveShell, pollMillis, threads, parallel);
    }
}
