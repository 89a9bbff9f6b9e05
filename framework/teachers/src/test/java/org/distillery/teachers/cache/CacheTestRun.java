package org.distillery.teachers.cache;

import java.nio.file.Path;
import java.util.Random;

import com.typesafe.config.Config;

import ai.djl.ndarray.NDManager;

import org.distillery.api.tensor.TensorService;
import org.distillery.testkit.TestRunContext;

/** The shared test run over shared services: seed 1, an empty registry, events only (no steps). */
final class CacheTestRun extends TestRunContext {

    CacheTestRun(Path dir, Config config, TensorService tensors, NDManager manager) {
        super(builder().dir(dir).config(config).tensors(tensors, manager).seed(1).ignoreSteps()
                .random((seed, purpose) -> new Random(purpose.hashCode())));
    }
}
