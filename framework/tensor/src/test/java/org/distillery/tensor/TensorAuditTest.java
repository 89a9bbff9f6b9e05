package org.distillery.tensor;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.djl.engine.Engine;
import ai.djl.ndarray.NDArray;
import ai.djl.ndarray.NDManager;
import ai.djl.ndarray.types.Shape;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TensorAuditTest {

    @AfterEach
    void clear() {
        System.clearProperty(TensorAudit.PROPERTY);
    }

    @Test
    void arraysUnderTheServiceAreCountedAndForeignOnesAreViolations() {
        System.setProperty(TensorAudit.PROPERTY, "record");
        try (DjlTensorService tensors = DjlTensorService.start("cpu", new ThreadSettings(1, 1, "test"));
             NDManager run = tensors.newRunScope("audit")) {
            TensorAudit audit = tensors.audit();
            assertEquals(TensorAudit.Mode.RECORD, audit.mode());
            try (NDManager step = tensors.newStepScope(run); NDManager deeper = step.newSubManager()) {
                NDArray a = step.ones(new Shape(3, 4));
                NDArray b = a.mul(a).add(deeper.ones(new Shape(4)));
                assertEquals(24f, b.sum().getFloat(), 1e-6);
            }
            assertTrue(audit.arraysSeen() >= 5, "ones, ones, mul, add, sum: " + audit.arraysSeen());
            assertTrue(audit.managersWatched() >= 4, "base, run, step, deeper: " + audit.managersWatched());
            assertEquals(0, audit.violationCount(), audit.violations().toString());

            // what a plugin must never do: a base manager of its own
            try (NDManager foreign = Engine.getEngine("PyTorch").newBaseManager()) {
                foreign.zeros(new Shape(2));
            }
            assertEquals(1, audit.violationCount());
            String v = audit.violations().get(0);
            assertTrue(v.startsWith("a manager was created outside the tensor service"), v);
            assertTrue(v.contains("TensorAuditTest.arraysUnderTheServiceAreCountedAndForeignOnesAreViolations"),
                    "the stack names the code that did it: " + v);
            assertTrue(audit.describe().startsWith("record: "), audit.describe());
        }
        // closing the service stops watching: another base manager is no one's business now
        try (NDManager later = Engine.getEngine("PyTorch").newBaseManager()) {
            later.zeros(new Shape(1));
        }
    }

    @Test
    void strictModeFailsWhereTheForeignManagerIsCreated() {
        System.setProperty(TensorAudit.PROPERTY, "strict");
        try (DjlTensorService tensors = DjlTensorService.start("cpu", new ThreadSettings(1, 1, "test"))) {
            var e = assertThrows(IllegalStateException.class, () -> Engine.getEngine("PyTorch").newBaseManager());
            assertTrue(e.getMessage().startsWith("tensor audit (DISTILL_TENSOR_AUDIT=strict): a manager was created "
                    + "outside the tensor service"), e.getMessage());
            try (NDManager run = tensors.newRunScope("ok")) {
                run.ones(new Shape(2)).close();
            }
            assertEquals(1, tensors.audit().violationCount());
        }
    }

    @Test
    void modesParseAndABadOneNamesTheVariable() {
        assertEquals(TensorAudit.Mode.OFF, TensorAudit.Mode.parse("off"));
        assertEquals(TensorAudit.Mode.STRICT, TensorAudit.Mode.parse(" Strict "));
        var e = assertThrows(InvalidTensorSettingException.class, () -> TensorAudit.Mode.parse("loud"));
        assertEquals("DISTILL_TENSOR_AUDIT: expected off, record or strict (got \"loud\")", e.getMessage());
    }
}
