package org.distillery.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import com.google.inject.Module;
import com.typesafe.config.Config;

import org.distillery.eval.EvalModule;
import org.distillery.kit.module.ModuleContributions;
import org.distillery.teachers.TeachersModule;
import org.distillery.testkit.TestRunContext;

/** The shared test run with the built-ins registered and memory probes every 100 steps. */
final class TestRun extends TestRunContext {

    /** Native bytes measured between steps after a full GC, every 100 steps (step -> bytes). */
    final Map<Long, Long> settledNative = new LinkedHashMap<>();
    /** Bytes of live arrays between steps, every 100 steps (step -> bytes). */
    final Map<Long, Long> tensorBytes = new LinkedHashMap<>();

    TestRun(Path dir, Config experiment) {
        super(builder().dir(dir).config(experiment));
        Config reference = ModuleContributions.reference(TestRun.class.getClassLoader(), "reference.conf");
        for (Module m : List.of(new TrainModule(), new EvalModule(), new TeachersModule())) {
            registerModule(m, reference);
        }
    }

    @Override
    protected void onStep(long step) {
        if (step % 100 == 0) {
            tensorBytes.put(step, tensors().memory().tensorBytes());
            settledNative.put(step, settledNativeBytes());
        }
    }

    /**
     * Native bytes once garbage holding native memory (direct buffers of array reads) is
     * collected, so the figure shows what the run keeps rather than when the GC last ran.
     */
    long settledNativeBytes() {
        for (int i = 0; i < 3; i++) {
            System.gc();
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        return tensors().memory().hostBytes();
    }

    static Path writeData(Path dir, int n) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < n; i++) {
            sb.append("{\"prompt\": \"what is ").append(i).append(" plus 1?\", \"response\": \"").append(i + 1)
                    .append("\"}\n");
        }
        Path f = dir.resolve("train.jsonl");
        Files.writeString(f, sb);
        return f;
    }
}
