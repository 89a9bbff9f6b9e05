package org.distillery.tensor;

import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicBoolean;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;
import ai.djl.pytorch.jni.JniUtils;

import org.distillery.api.tensor.MemoryUsage;
import org.distillery.api.tensor.TensorService;

/**
 * The one owner of the DJL engine, its thread settings and its base manager. The kernel creates
 * it before any bundle starts, so the engine is discovered through the launcher's class loader.
 *
 * <p>Starting the engine (loading libtorch) takes about half a second or more; {@link #begin}
 * does it on a thread of its own so the caller can go on (the kernel starts Felix and its bundles
 * meanwhile), and every method that needs the engine waits for it. The thread counts
 * ({@link ThreadPolicy}) are set before libtorch starts its pools; a later service in the same
 * process can change the intra-op count but not the inter-op one, which PyTorch fixes at first use.
 */
public final class DjlTensorService implements TensorService, AutoCloseable {

    /** Whether this process has started the PyTorch engine (its thread pools are then fixed). */
    private static final AtomicBoolean ENGINE_STARTED = new AtomicBoolean();
    /**
     * Threads whose autograd grad mode is off. PyTorch's grad mode is per thread and on by default;
     * DJL's engine turns it off on the thread that loads libtorch and relies on it being off outside a
     * gradient collector (in-place updates of parameters fail otherwise). The engine loads on a thread
     * of its own here, so each thread that reaches the service turns it off for itself once.
     */
    private static final ThreadLocal<Boolean> GRAD_MODE_OFF = ThreadLocal.withInitial(() -> false);
    /** The engine's random generator and gradient collector are process-wide: one step at a time. */
    private final java.util.concurrent.locks.ReentrantLock engineLock = new java.util.concurrent.locks.ReentrantLock(true);

    /** The engine, once started. */
    private record Started(Engine engine, Device device, NDManager base, ThreadSettings threads, EngineInfo info,
                           TensorAudit audit, Optional<String> loadWarning, long nanos) {
    }

    private final CompletableFuture<Started> started;
    private final long beganNanos = System.nanoTime();
    private volatile long readyNanos = -1;
    private volatile ThreadSettings threadsNow;

    private DjlTensorService(CompletableFuture<Started> started) {
        this.started = started;
    }

    /**
     * Starts the engine, picks the device and waits; threads from the environment ({@link ThreadPolicy}).
     *
     * @param deviceSpec {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
     * @throws IllegalArgumentException if the spec is malformed or names a GPU that is not there
     */
    public static DjlTensorService start(String deviceSpec) {
        return start(deviceSpec, ThreadPolicy.resolve(null));
    }

    /** Starts the engine with these thread settings, picks the device and waits. */
    public static DjlTensorService start(String deviceSpec, ThreadSettings threads) {
        DjlTensorService s = begin(deviceSpec, threads);
        s.awaitReady();
        return s;
    }

    /**
     * Begins starting the engine on a thread of its own and returns at once; methods that need the
     * engine wait for it, and {@link #awaitReady()} rethrows what went wrong.
     */
    public static DjlTensorService begin(String deviceSpec, ThreadSettings threads) {
        checkSpec(deviceSpec);
        TensorAudit.Mode auditMode = TensorAudit.Mode.configured();
        // DJL discovers its engines in Engine's static initialiser through the thread's context class
        // loader: run it here, on the caller's (the launcher's) loader, before anything else can.
        Engine.getAllEngines();
        ClassLoader loader = Thread.currentThread().getContextClassLoader();
        CompletableFuture<Started> f = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            Thread.currentThread().setContextClassLoader(loader);
            try {
                f.complete(startEngine(deviceSpec, threads, auditMode));
            } catch (Throwable e) {
                f.completeExceptionally(e);
            }
        }, "distill-engine-start");
        t.setDaemon(true);
        t.start();
        return new DjlTensorService(f);
    }

    private static Started startEngine(String deviceSpec, ThreadSettings wanted, TensorAudit.Mode auditMode) {
        long t0 = System.nanoTime();
        boolean first = ENGINE_STARTED.compareAndSet(false, true);
        if (first) {
            // PtEngine reads these when it loads libtorch, before any pool exists
            System.setProperty(ThreadPolicy.INTRA_PROPERTY, Integer.toString(wanted.intraOp()));
            System.setProperty(ThreadPolicy.INTER_PROPERTY, Integer.toString(wanted.interOp()));
        }
        Engine engine = loadEngine();
        ThreadSettings threads = applyThreads(wanted);
        EngineInfo facts = EngineInfo.of(engine, deviceSpec);
        Device device = resolveDevice(deviceSpec, facts.usableGpus());
        EngineInfo info = facts.withDevice(device);
        NDManager base = engine.newBaseManager(device);
        base.setName("distillery");
        TensorAudit audit = TensorAudit.install(auditMode, base, device);
        CpuBudget budget = CpuBudget.detect();
        Optional<String> warning = device.isGpu() ? Optional.empty()
                : ThreadPolicy.oversubscription(budget, threads.intraOp());
        return new Started(engine, device, base, threads, info, audit, warning, System.nanoTime() - t0);
    }

    /**
     * Starts the PyTorch engine. Without a native jar on the class path (the cuda distribution) DJL
     * resolves libtorch into its cache; when that fails the error says where it looked and what to do.
     */
    private static Engine loadEngine() {
        try {
            return Engine.getEngine("PyTorch");
        } catch (RuntimeException e) {
            boolean bundled;
            try {
                bundled = !ai.djl.util.Platform.detectPlatform("pytorch").isPlaceholder();
            } catch (RuntimeException | Error probe) {
                throw e;
            }
            if (bundled) {
                throw e;
            }
            StringBuilder cause = new StringBuilder();
            for (Throwable c = e; c != null; c = c.getCause()) {
                cause.append(cause.length() == 0 ? "" : " <- ").append(c.getMessage());
            }
            throw new IllegalStateException("libtorch could not be resolved into DJL's cache "
                    + ai.djl.util.Utils.getEngineCacheDir("pytorch") + " (" + cause + "). This distribution has no "
                    + "bundled libtorch: start it once with network access (and DISTILL_OFFLINE unset), or pre-fill that "
                    + "cache (ENGINE_CACHE_DIR or DJL_CACHE_DIR name another place; see the README's GPU section)", e);
        }
    }

    /** Sets PyTorch's intra-op count if it differs, and reads both counts back from PyTorch. */
    private static ThreadSettings applyThreads(ThreadSettings wanted) {
        if (JniUtils.getNumThreads() != wanted.intraOp()) {
            JniUtils.setNumThreads(wanted.intraOp());
        }
        int intra = JniUtils.getNumThreads();
        int inter = JniUtils.getNumInteropThreads();
        String source = wanted.source();
        if (inter != wanted.interOp()) {
            source += "; inter-op " + inter + " was fixed when PyTorch first started in this process";
        }
        return new ThreadSettings(intra, inter, source);
    }

    /**
     * Sets the intra-op thread count of the running engine (for every run of the process: PyTorch
     * has one pool); returns the settings now in force.
     */
    public ThreadSettings setThreads(ThreadSettings wanted) {
        ready();
        synchronized (this) {
            threadsNow = applyThreads(wanted);
            return threadsNow;
        }
    }

    /** Waits until the engine is started; rethrows what failed (a bad device spec as {@link IllegalArgumentException}). */
    public void awaitReady() {
        ready();
    }

    private Started ready() {
        try {
            Started s = started.join();
            if (!GRAD_MODE_OFF.get()) {
                JniUtils.setGradMode(false);
                GRAD_MODE_OFF.set(true);
            }
            if (readyNanos < 0) {
                readyNanos = System.nanoTime() - beganNanos;
            }
            if (threadsNow == null) {
                threadsNow = s.threads;
            }
            return s;
        } catch (CompletionException e) {
            if (e.getCause() instanceof RuntimeException r) {
                throw r;
            }
            if (e.getCause() instanceof Error err) {
                throw err;
            }
            throw e;
        }
    }

    /** Nanoseconds from {@link #begin} until the engine was first seen ready, or -1 before. */
    public long startNanos() {
        return readyNanos;
    }

    /** Nanoseconds the engine's start took on its own thread (loading libtorch, device, audit). */
    public long engineNanos() {
        return ready().nanos;
    }

    /** Checks the form of a device spec without looking for GPUs; throws naming what is accepted. */
    public static void checkSpec(String spec) {
        resolveDevice(spec, Integer.MAX_VALUE);
    }

    /** Maps a device spec to a device, given the number of GPUs present. */
    static Device resolveDevice(String spec, int gpuCount) {
        String s = spec.trim().toLowerCase(Locale.ROOT);
        if (s.equals("auto")) {
            return gpuCount > 0 ? Device.gpu(0) : Device.cpu();
        }
        if (s.equals("cpu")) {
            return Device.cpu();
        }
        if (s.equals("gpu") || s.startsWith("gpu:")) {
            int id = 0;
            if (s.startsWith("gpu:")) {
                try {
                    id = Integer.parseInt(s.substring(4));
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("device '" + spec + "': expected gpu:N with N a number");
                }
            }
            if (id < 0 || id >= gpuCount) {
                throw new IllegalArgumentException("device '" + spec + "': " + gpuCount + " GPU(s) found"
                        + (gpuCount == 0 ? "; use cpu or auto (distill doctor says why no GPU is usable)"
                        : "; use gpu:0 to gpu:" + (gpuCount - 1)));
            }
            return Device.gpu(id);
        }
        throw new IllegalArgumentException("device '" + spec + "': accepted: auto, cpu, gpu, gpu:N");
    }

    @Override
    public Device device() {
        return ready().device;
    }

    @Override
    public String engineDescription() {
        Started s = ready();
        return s.engine.getEngineName() + " " + s.engine.getVersion() + " on " + s.device;
    }

    /** The engine's facts: version, native library, flavor, GPUs and why one is or is not used. */
    public EngineInfo engineInfo() {
        return ready().info;
    }

    /** PyTorch's thread counts in force, read back from PyTorch, and their source. */
    public ThreadSettings threads() {
        ready();
        return threadsNow;
    }

    /** The oversubscription warning found when the engine started, if any (runs and benchmarks print it). */
    public Optional<String> loadWarning() {
        return ready().loadWarning;
    }

    /** The tensor audit (off unless {@code DISTILL_TENSOR_AUDIT} asks for it). */
    public TensorAudit audit() {
        return ready().audit;
    }

    /** The service's base manager: the root of every run and step scope. */
    public NDManager baseManager() {
        return ready().base;
    }

    @Override
    public NDManager newRunScope(String runId) {
        Started s = ready();
        NDManager m = s.base.newSubManager(s.device);
        m.setName("run:" + runId);
        return m;
    }

    @Override
    public NDManager newStepScope(NDManager runScope) {
        NDManager m = runScope.newSubManager();
        m.setName("step");
        return m;
    }

    @Override
    public MemoryUsage memory() {
        Started s = ready();
        long device = 0;
        String source = NativeMemory.SOURCE;
        if (s.device.isGpu()) {
            device = ai.djl.util.cuda.CudaUtils.getGpuMemory(s.device).getUsed();
            source += "+cuda";
        }
        return new MemoryUsage(tensorBytes(), NativeMemory.inUse(), device, source);
    }

    /** Bytes of every live array under the base manager (weights, optimizer state, open steps). */
    public long tensorBytes() {
        long bytes = 0;
        if (ready().base instanceof ai.djl.ndarray.BaseNDManager b) {
            for (ai.djl.ndarray.NDArray a : b.getManagedArrays()) {
                if (!a.isReleased()) {
                    bytes += a.size() * a.getDataType().getNumOfBytes();
                }
            }
        }
        return bytes;
    }

    /**
     * Prepares the calling thread for engine work the way the thread that started the engine is:
     * PyTorch keeps "record gradients" per thread, on by default in a new thread, while the engine
     * turns it off in the thread that loads it (gradients are recorded inside gradient collectors
     * only). A run on a thread of its own (the shell's {@code distill:run}) calls this first, or an
     * optimizer's in-place update of a parameter fails.
     */
    public void attachThread() {
        ready();
    }

    @Override
    public void seed(long seed) {
        engineLock.lock();
        try {
            ready().engine.setRandomSeed((int) (seed ^ (seed >>> 32)));
        } finally {
            engineLock.unlock();
        }
    }

    /**
     * Runs {@code body} holding the engine, seeded with {@code seed}. The lock is fair: runs sharing
     * the kernel take strict turns, so one run's steps cannot starve another's.
     */
    @Override
    public <T> T exclusive(long seed, java.util.concurrent.Callable<T> body) throws Exception {
        engineLock.lock();
        try {
            ready().engine.setRandomSeed((int) (seed ^ (seed >>> 32)));
            return body.call();
        } finally {
            engineLock.unlock();
        }
    }

    /** Lines for a report: engine, native library, device and why, threads, load, audit. */
    public List<String> describe() {
        Started s = ready();
        EngineInfo i = s.info;
        return List.of(
                "engine    " + i.summary(),
                "native    " + (i.nativeLibrary() == null ? "unknown" : i.nativeLibrary()) + " (" + i.provenance() + ")",
                "device    " + s.device + " (asked: " + i.deviceSpec() + ")",
                "gpu       " + i.gpuReason(),
                "threads   " + threads().describe(),
                "load      " + s.loadWarning.orElse("no oversubscription seen at start"),
                "audit     " + s.audit.describe());
    }

    @Override
    public void close() {
        Started s;
        try {
            s = ready();
        } catch (RuntimeException | Error e) {
            return;
        }
        s.audit.close();
        s.base.close();
    }
}
