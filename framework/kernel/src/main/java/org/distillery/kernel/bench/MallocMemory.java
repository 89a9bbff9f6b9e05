package org.distillery.kernel.bench;

import java.util.Optional;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Structure;

/**
 * Native heap in use, from glibc's {@code mallinfo2()} through JNA: bytes in allocated
 * arena chunks plus bytes in mmapped chunks ({@code uordblks + hblkhd}). PyTorch's CPU
 * allocator does not cache, so tensor memory shows up here as soon as it is allocated and
 * leaves as soon as it is freed.
 */
public final class MallocMemory {

    /** glibc's {@code struct mallinfo2}: ten {@code size_t} fields. */
    @Structure.FieldOrder({"arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks", "uordblks",
            "fordblks", "keepcost"})
    public static class MallInfo2 extends Structure implements Structure.ByValue {
        /** Non-mmapped space allocated (bytes). */
        public long arena;
        /** Number of free chunks. */
        public long ordblks;
        /** Number of free fastbin blocks. */
        public long smblks;
        /** Number of mmapped regions. */
        public long hblks;
        /** Space allocated in mmapped regions (bytes). */
        public long hblkhd;
        /** Unused. */
        public long usmblks;
        /** Space in freed fastbin blocks (bytes). */
        public long fsmblks;
        /** Total allocated space (bytes). */
        public long uordblks;
        /** Total free space (bytes). */
        public long fordblks;
        /** Top-most, releasable space (bytes). */
        public long keepcost;
    }

    /** The part of the C library this class calls. */
    public interface CLibrary extends Library {
        /** glibc 2.33 and later. */
        MallInfo2 mallinfo2();
    }

    private final CLibrary libc;

    private MallocMemory(CLibrary libc) {
        this.libc = libc;
    }

    /** The probe, or empty when this is not a 64-bit glibc (2.33+) system. */
    public static Optional<MallocMemory> open() {
        try {
            if (Native.SIZE_T_SIZE != Long.BYTES) {
                return Optional.empty();
            }
            MallocMemory memory = new MallocMemory(Native.load("c", CLibrary.class));
            memory.inUse();
            return Optional.of(memory);
        } catch (UnsatisfiedLinkError | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Bytes of native heap in use now: {@code uordblks + hblkhd}. */
    public long inUse() {
        MallInfo2 info = libc.mallinfo2();
        return info.uordblks + info.hblkhd;
    }
}
