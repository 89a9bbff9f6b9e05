package org.distillery.tensor;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Structure;

/**
 * Bytes the native allocator has handed out and not taken back: glibc's {@code mallinfo2}
 * (in-use arena bytes plus mmapped blocks). libtorch's CPU allocator goes through malloc, so
 * this counts tensor storage but not the Java heap. Where mallinfo2 is missing, falls back
 * to the anonymous resident set from {@code /proc/self/status}.
 */
public final class NativeMemory {

    /** How {@link #inUse()} measures. */
    public static final String SOURCE;

    private static final LibC LIBC;

    static {
        LibC lib = null;
        try {
            lib = Native.load("c", LibC.class);
            lib.mallinfo2();
        } catch (Throwable e) {
            lib = null;
        }
        LIBC = lib;
        SOURCE = lib != null ? "mallinfo2" : "rss-anon";
    }

    private NativeMemory() {
    }

    /** Native bytes in use now. */
    public static long inUse() {
        if (LIBC != null) {
            Mallinfo2 info = LIBC.mallinfo2();
            return info.uordblks + info.hblkhd;
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("RssAnon:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
        return -1;
    }

    /** glibc's {@code struct mallinfo2}: every field a {@code size_t}. */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
        "fordblks", "keepcost"})
    public static class Mallinfo2 extends Structure implements Structure.ByValue {
        public long arena;
        public long ordblks;
        public long smblks;
        public long hblks;
        public long hblkhd;
        public long usmblks;
        public long fsmblks;
        public long uordblks;
        public long fordblks;
        public long keepcost;
    }

    interface LibC extends Library {
        Mallinfo2 mallinfo2();
    }
}
