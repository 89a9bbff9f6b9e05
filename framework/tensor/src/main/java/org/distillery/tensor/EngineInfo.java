package org.distillery.tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

import ai.djl.Device;
import ai.djl.engine.Engine;
import ai.djl.engine.StandardCapabilities;
import ai.djl.pytorch.jni.LibUtils;
import ai.djl.util.Platform;
import ai.djl.util.Utils;
import ai.djl.util.cuda.CudaUtils;

/**
 * What the engine is and where it came from, and why the device is what it is: the facts
 * {@code distill doctor} prints and a run's {@code run-started} event records.
 *
 * @param engine engine name, e.g. {@code PyTorch}
 * @param version engine version, e.g. {@code 2.7.1}
 * @param djlVersion DJL's version
 * @param nativeLibrary the folder libtorch was loaded from
 * @param flavor libtorch's build: {@code cpu}, {@code cu128}, ...
 * @param bundled whether libtorch came from a native jar on the class path (the CPU distribution)
 *     rather than being resolved by DJL into its cache (the CUDA distribution: downloaded on first
 *     start, or a pre-filled cache)
 * @param cacheDir DJL's engine cache folder ({@code ENGINE_CACHE_DIR} or {@code DJL_CACHE_DIR})
 * @param cudaBuild whether the loaded libtorch has CUDA
 * @param cudaRuntime whether a CUDA runtime is present on the machine (DJL's {@code CudaUtils})
 * @param machineGpus CUDA GPUs the machine's runtime reports, whatever libtorch is loaded
 * @param usableGpus GPUs this engine can use (0 unless libtorch has CUDA)
 * @param deviceSpec the device asked for ({@code auto}, {@code cpu}, {@code gpu}, {@code gpu:N})
 * @param device the device chosen
 * @param gpuReason why a GPU was or was not used
 */
public record EngineInfo(String engine, String version, String djlVersion, Path nativeLibrary, String flavor,
                         boolean bundled, Path cacheDir, boolean cudaBuild, boolean cudaRuntime, int machineGpus,
                         int usableGpus, String deviceSpec, Device device, String gpuReason) {

    /** The facts of a started engine for a device spec (before the device is chosen). */
    static EngineInfo of(Engine engine, String deviceSpec) {
        Path lib = null;
        String flavor = "unknown";
        boolean bundled = false;
        try {
            lib = Path.of(LibUtils.getLibtorchPath());
            flavor = flavorOf(lib.getFileName().toString());
            bundled = !Platform.detectPlatform("pytorch").isPlaceholder();
        } catch (RuntimeException | LinkageError e) {
            // not the PyTorch engine, or DJL changed: leave the facts unknown
        }
        boolean cudaBuild = engine.hasCapability(StandardCapabilities.CUDA);
        boolean runtime = CudaUtils.hasCuda();
        int machineGpus = runtime ? CudaUtils.getGpuCount() : 0;
        int usable = cudaBuild ? engine.getGpuCount() : 0;
        return new EngineInfo(engine.getEngineName(), engine.getVersion(), Engine.getDjlVersion(), lib, flavor, bundled,
                Utils.getEngineCacheDir(), cudaBuild, runtime, machineGpus, usable, deviceSpec, null, "");
    }

    /** The flavor in a DJL cache folder name such as {@code 2.7.1-20250812-cpu-linux-x86_64}. */
    static String flavorOf(String dirName) {
        for (String part : dirName.split("-")) {
            if (part.equals("cpu") || part.matches("cu\\d+")) {
                return part;
            }
        }
        return "unknown";
    }

    /** These facts with the chosen device and the reason for it. */
    EngineInfo withDevice(Device chosen) {
        return new EngineInfo(engine, version, djlVersion, nativeLibrary, flavor, bundled, cacheDir, cudaBuild,
                cudaRuntime, machineGpus, usableGpus, deviceSpec, chosen, reason(chosen));
    }

    private String reason(Device chosen) {
        if (chosen.isGpu()) {
            return "using " + chosen + ": libtorch " + flavor + " has CUDA and " + usableGpus + " GPU(s) are visible"
                    + (deviceSpec.equals("auto") ? " (device auto picks the first)" : " (device " + deviceSpec + ")");
        }
        if (deviceSpec.trim().equalsIgnoreCase("cpu")) {
            return "not used: the device is set to cpu" + (usableGpus > 0 ? " (" + usableGpus + " usable GPU(s) present)" : "");
        }
        if (!cudaBuild) {
            String why = "not used: the libtorch in use is the " + flavor + " build without CUDA"
                    + (bundled ? " (bundled in lib/ by the CPU distribution)" : "");
            if (machineGpus > 0) {
                return why + "; this machine has " + machineGpus + " CUDA GPU(s): use the cuda distribution, whose "
                        + "launcher lets DJL resolve the CUDA build of libtorch " + version + " (see README, GPU)";
            }
            return why + "; no CUDA GPU found on this machine (DJL's CUDA probe reports none)";
        }
        return "not used: libtorch " + flavor + " has CUDA, but no GPU is visible to it"
                + (System.getenv("CUDA_VISIBLE_DEVICES") != null ? " (CUDA_VISIBLE_DEVICES="
                + System.getenv("CUDA_VISIBLE_DEVICES") + ")" : " (driver missing or no device)");
    }

    /** How libtorch was obtained, in words. */
    public String provenance() {
        return bundled ? "bundled: the " + flavor + " build from the pytorch-native jar in lib/"
                : "resolved by DJL into its cache " + cacheDir + " (downloaded on first start unless the cache was "
                        + "pre-filled)";
    }

    /** The fields of a run's event log. */
    public Map<String, Object> toEvent() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("engine", engine + " " + version);
        m.put("djl", djlVersion);
        m.put("native_library", nativeLibrary == null ? "unknown" : nativeLibrary.toString());
        m.put("flavor", flavor);
        m.put("bundled", bundled);
        m.put("device", String.valueOf(device));
        m.put("gpu", gpuReason);
        return m;
    }

    /** E.g. {@code PyTorch 2.7.1 (DJL 0.36.0, libtorch cpu)}. */
    public String summary() {
        return String.format(Locale.ROOT, "%s %s (DJL %s, libtorch %s)", engine, version, djlVersion, flavor);
    }
}
