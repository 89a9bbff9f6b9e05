package org.distillery.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.Device;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.Test;

class DjlTensorServiceTest {

    @Test
    void resolvesDeviceSpecs() {
        assertEquals(Device.cpu(), DjlTensorService.resolveDevice("auto", 0));
        assertEquals(Device.gpu(0), DjlTensorService.resolveDevice("auto", 2));
        assertEquals(Device.cpu(), DjlTensorService.resolveDevice("CPU", 2));
        assertEquals(Device.gpu(1), DjlTensorService.resolveDevice("gpu:1", 2));
        var e = assertThrows(IllegalArgumentException.class, () -> DjlTensorService.resolveDevice("gpu", 0));
        assertTrue(e.getMessage().contains("0 GPU(s) found"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> DjlTensorService.resolveDevice("tpu", 0));
        assertTrue(e.getMessage().contains("accepted: auto, cpu, gpu, gpu:N"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> DjlTensorService.resolveDevice("gpu:x", 4));
    }

    @Test
    void stepScopesFreeTheirArraysAndMemoryIsReported() {
        try (DjlTensorService tensors = DjlTensorService.start("cpu"); NDManager run = tensors.newRunScope("t")) {
            assertSame(run, tensors.newStepScope(run).getParentManager());
            long before = tensors.memory().hostBytes();
            assertTrue(before > 0, "native memory must be measurable");
            NDManager step = tensors.newStepScope(run);
            NDArray big = step.ones(new Shape(4096, 1024)); // 16 MiB
            long during = tensors.memory().hostBytes();
            // the kernel's resident-set counters are kept per thread and folded in lazily (up to 64 pages
            // per thread behind), so the figure may trail the 16 MiB just written by a few hundred KiB
            assertTrue(during - before >= 15L << 20, "allocation visible: " + (during - before));
            assertEquals(16L << 20, tensors.memory().tensorBytes() - 0, "the live array is counted");
            step.close();
            assertEquals(0, tensors.memory().tensorBytes());
            assertTrue(big.isReleased());
            // freed arrays may stay in the allocator's heap, so the resident set need not shrink
        }
    }
}
