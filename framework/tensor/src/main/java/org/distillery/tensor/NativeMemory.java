package org.distillery.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Native memory of the process: the anonymous resident set ({@code RssAnon} in
 * {@code /proc/self/status}), which holds libtorch's CPU tensors and the JVM's own native
 * allocations but not file-backed pages such as the mapped libraries. Read from procfs, so no
 * native call is made.
 */
public final class NativeMemory {

    /** How {@link #inUse()} measures. */
    public static final String SOURCE = "rss-anon";

    private static final Path STATUS = Path.of("/proc/self/status");

    private NativeMemory() {
    }

    /** Anonymous resident bytes now, or -1 where procfs is not available. */
    public static long inUse() {
        try {
            for (String line : Files.readAllLines(STATUS)) {
                if (line.startsWith("RssAnon:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }
}
