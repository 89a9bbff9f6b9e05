package org.distillery.models.bench;

import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.Locale;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

/** What both benchmarks print about the machine, and small statistics. */
final class BenchSupport {

    private BenchSupport() {
    }

    /**
     * One line: available processors, the engine's intra-op and inter-op thread counts (read
     * from PyTorch through DJL's {@code JniUtils} when the engine is PyTorch) and the system
     * properties and environment variable that set them.
     */
    static String threads(NDManager manager) {
        Engine engine = manager.getEngine();
        String intra = "?";
        String inter = "?";
        try {
            Class<?> jni = Class.forName("ai.djl.pytorch.jni.JniUtils", true, engine.getClass().getClassLoader());
            Method n = jni.getMethod("getNumThreads");
            Method i = jni.getMethod("getNumInteropThreads");
            intra = String.valueOf(n.invoke(null));
            inter = String.valueOf(i.invoke(null));
        } catch (ReflectiveOperationException | LinkageError e) {
            // not the PyTorch engine, or DJL changed: report what the properties say
        }
        return String.format(Locale.ROOT,
                "threads: %d available processors; engine %s %s, intra-op %s, inter-op %s "
                        + "(ai.djl.pytorch.num_threads=%s, ai.djl.pytorch.num_interop_threads=%s, OMP_NUM_THREADS=%s)",
                Runtime.getRuntime().availableProcessors(), engine.getEngineName(), engine.getVersion(), intra, inter,
                System.getProperty("ai.djl.pytorch.num_threads", "unset"),
                System.getProperty("ai.djl.pytorch.num_interop_threads", "unset"),
                System.getenv().getOrDefault("OMP_NUM_THREADS", "unset"));
    }

    static double min(double[] xs) {
        return Arrays.stream(xs).min().orElse(Double.NaN);
    }

    static double median(double[] xs) {
        double[] s = xs.clone();
        Arrays.sort(s);
        int n = s.length;
        return n == 0 ? Double.NaN : n % 2 == 1 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
    }

    /** {@code 20447616} as {@code 20,447,616}. */
    static String grouped(long n) {
        return String.format(Locale.ROOT, "%,d", n);
    }
}
