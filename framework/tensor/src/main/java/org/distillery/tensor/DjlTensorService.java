package org.distillery.tensor;

import java.util.Locale;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.ndarray.NDManager;

import org.distillery.api.tensor.MemoryUsage;
import org.distillery.api.tensor.TensorService;

/**
 * The one owner of the DJL engine and its base manager. The kernel creates it before any
 * bundle starts, so the engine is discovered through the launcher's class loader.
 */
public final class DjlTensorService implements TensorService, AutoCloseable {

    /** The engine's random generator and gradient collector are process-wide: one step at a time. */
    private final java.util.concurrent.locks.ReentrantLock engineLock = new java.util.concurrent.locks.ReentrantLock(true);

    private final Engine engine;
    private final Device device;
    private final NDManager base;

    private DjlTensorService(Engine engine, Device device) {
        this.engine = engine;
        this.device = device;
        this.base = engine.newBaseManager(device);
    }

    /**
     * Starts the engine and picks the device.
     *
     * @param deviceSpec {@code auto}, {@code cpu}, {@code gpu} or {@code gpu:N}
     * @throws IllegalArgumentException if the spec is malformed or names a GPU that is not there
     */
    public static DjlTensorService start(String deviceSpec) {
        Engine engine = Engine.getEngine("PyTorch");
        return new DjlTensorService(engine, resolveDevice(deviceSpec, engine.getGpuCount()));
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
                        + (gpuCount == 0 ? "; use cpu or auto" : "; use gpu:0 to gpu:" + (gpuCount - 1)));
            }
            return Device.gpu(id);
        }
        throw new IllegalArgumentException("device '" + spec + "': accepted: auto, cpu, gpu, gpu:N");
    }

    @Override
    public Device device() {
        return device;
    }

    @Override
    public String engineDescription() {
        return engine.getEngineName() + " " + engine.getVersion() + " on " + device;
    }

    @Override
    public NDManager newRunScope(String runId) {
        NDManager m = base.newSubManager(device);
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
        long device = 0;
        String source = NativeMemory.SOURCE;
        if (this.device.isGpu()) {
            device = ai.djl.util.cuda.CudaUtils.getGpuMemory(this.device).getUsed();
            source += "+cuda";
        }
        return new MemoryUsage(tensorBytes(), NativeMemory.inUse(), device, source);
    }

    /** Bytes of every live array under the base manager (weights, optimizer state, open steps). */
    public long tensorBytes() {
        long bytes = 0;
        if (base instanceof ai.djl.ndarray.BaseNDManager b) {
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
        if (!engine.getEngineName().equals("PyTorch")) {
            return;
        }
        try {
            Class.forName("ai.djl.pytorch.jni.JniUtils", true, engine.getClass().getClassLoader())
                    .getMethod("setGradMode", boolean.class).invoke(null, false);
        } catch (ReflectiveOperationException e) {
            throw new IllegalStateException("cannot prepare thread " + Thread.currentThread().getName()
                    + " for the PyTorch engine: " + e, e);
        }
    }

    @Override
    public void seed(long seed) {
        engineLock.lock();
        try {
            engine.setRandomSeed((int) (seed ^ (seed >>> 32)));
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
            engine.setRandomSeed((int) (seed ^ (seed >>> 32)));
            return body.call();
        } finally {
            engineLock.unlock();
        }
    }

    @Override
    public void close() {
        base.close();
    }
}
