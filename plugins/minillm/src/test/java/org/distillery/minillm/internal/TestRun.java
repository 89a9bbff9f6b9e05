package org.distillery.minillm.internal;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import com.typesafe.config.Config;

import org.distillery.eval.EvalModule;
import org.distillery.kdcore.internal.KdCoreModule;
import org.distillery.teachers.TeachersModule;
import org.distillery.testkit.TestRunContext;
import org.distillery.train.TrainModule;

/**
 * The shared test run with a registry holding what the kernel would register: the built-ins,
 * kd-core and this bundle, each with its defaults from the {@code reference.conf} files on the
 * test class path.
 */
final class TestRun extends TestRunContext {

    TestRun(Path dir, Config experiment) {
        super(builder().dir(dir).config(experiment).random(KERNEL_RANDOM).tinyModel(tinyGpt2(1, 2, 64)));
        registerModules(new TrainModule(), new EvalModule(), new TeachersModule(), new KdCoreModule(),
                new MiniLlmModule());
    }

    static TestRun bare() {
        try {
            return new TestRun(Files.createTempDirectory("minillm-test"), experiment(""));
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
