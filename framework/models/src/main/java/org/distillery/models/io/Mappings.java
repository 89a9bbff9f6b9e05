package org.distillery.models.io;

import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.lang.reflect.Field;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;

/**
 * Unmaps a file mapping as soon as its bytes were copied. Java unmaps a {@link MappedByteBuffer} only
 * when the garbage collector finds it unreachable; until then the pages it touched count in the
 * process's resident memory, so reading a large model tensor by tensor would keep all of it resident.
 * The JDK's own cleaner ({@code sun.misc.Unsafe.invokeCleaner}, module {@code jdk.unsupported}) unmaps
 * at once; where it is not available the mapping is left to the collector.
 */
final class Mappings {

    private static final MethodHandle INVOKE_CLEANER = lookup();

    private Mappings() {
    }

    private static MethodHandle lookup() {
        try {
            Class<?> unsafeClass = Class.forName("sun.misc.Unsafe");
            Field f = unsafeClass.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            Object unsafe = f.get(null);
            return MethodHandles.lookup().findVirtual(unsafeClass, "invokeCleaner",
                    MethodType.methodType(void.class, ByteBuffer.class)).bindTo(unsafe);
        } catch (ReflectiveOperationException | RuntimeException e) {
            return null;
        }
    }

    /** True when mappings are released at once rather than by the garbage collector. */
    static boolean immediate() {
        return INVOKE_CLEANER != null;
    }

    /** Unmaps {@code map}; it must not be used afterwards (nor any view of it). */
    static void release(MappedByteBuffer map) {
        if (INVOKE_CLEANER == null) {
            return;
        }
        try {
            INVOKE_CLEANER.invokeExact((ByteBuffer) map);
        } catch (Throwable e) {
            // a mapping the cleaner refuses stays mapped until it is collected; nothing is lost
        }
    }
}
