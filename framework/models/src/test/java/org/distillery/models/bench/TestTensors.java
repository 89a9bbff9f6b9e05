package org.distillery.models.bench;

import ai.djl.Device;
import ai.djl.ndarray.NDManager;

import org.distillery.api.tensor.MemoryUsage;
import org.distillery.api.tensor.TensorService;

/** A minimal tensor service over one base manager, for the benchmark tests. */
final class TestTensors implements TensorService, AutoCloseable {

    private final NDManager base = NDManager.newBaseManager();

    @Override
    public Device device() {
        return base.getDevice();
    }

    @Override
    public String engineDescription() {
        return base.getEngine().getEngineName() + " " + base.getEngine().getVersion();
    }

    @Override
    public NDManager newRunScope(String runId) {
        return base.newSubManager();
    }

    @Override
    public NDManager newStepScope(NDManager runScope) {
        return runScope.newSubManager();
    }

    /** Live array bytes under the base manager; no host or device figures. */
    @Override
    public MemoryUsage memory() {
        long bytes = 0;
        if (base instanceof ai.djl.ndarray.BaseNDManager b) {
            for (ai.djl.ndarray.NDArray a : b.getManagedArrays()) {
                if (!a.isReleased()) {
                    bytes += a.size() * a.getDataType().getNumOfBytes();
                }
            }
        }
        return new MemoryUsage(bytes, 0, 0, "test");
    }

    @Override
    public void seed(long seed) {
        base.getEngine().setRandomSeed((int) seed);
    }

    @Override
    public void close() {
        base.close();
    }
}
