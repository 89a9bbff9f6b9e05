package org.distillery.kernel;

import java.nio.file.Path;
import java.util.List;

/**
 * How to boot the kernel.
 *
 * @param home the distribution folder ({@code bin/}, {@code lib/}, {@code bundles/}, {@code config/}, {@code drop-in/})
 * @param bundleDirs folders whose jars are installed and started at boot, in order
 * @param dropIn the watched drop-in folder, or {@code null} to watch none
 * @param device {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
 * @param interactiveShell start Gogo's console on standard input
 * @param pollMillis drop-in poll interval
 */
public record KernelOptions(Path home, List<Path> bundleDirs, Path dropIn, String device, boolean interactiveShell,
                            long pollMillis) {

    /** The layout of a distribution at {@code home}. */
    public static KernelOptions forHome(Path home, String device) {
        return new KernelOptions(home, List.of(home.resolve("bundles")), home.resolve("drop-in"), device, false, 250);
    }

    /** A copy with the interactive shell on or off. */
    public KernelOptions withShell(boolean shell) {
        return new KernelOptions(home, bundleDirs, dropIn, device, shell, pollMillis);
    }
}
