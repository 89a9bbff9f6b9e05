package org.distillery.kernel.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;

import com.typesafe.config.Config;

import org.distillery.kernel.Kernel;
import org.distillery.kernel.bench.ServeSoak;
import org.distillery.kernel.bench.Soak;
import org.distillery.kernel.config.ExperimentException;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code distill bench soak}: long-running faults and load, figures printed (not part of the tests). */
@Command(name = "soak", mixinStandardHelpOptions = true,
        description = {"Soak: (updates) a run whose loss bundle is updated 100 times, alternating two versions, "
            + "checked for contiguous, unskipped, unfailed steps; (memory) a 2,000-step run whose Java heap and native "
            + "heap are sampled after a GC every 100 steps, growth after a 500-step warm-up; (serve) distill serve "
            + "under 3,000 fuzzed requests (the first third a warm-up) (no 5xx, threads and resident memory), then SIGTERM with requests in flight.",
            "Runs use the embedded smoke experiment (teacher config/models/teacher, kd.forward-kl, batch 2, "
            + "max-length 32). Takes several minutes; use one PyTorch thread on a shared machine."})
final class SoakBenchCommand implements Callable<Integer> {

    @Option(names = "--parts", split = ",", description = "updates, memory, serve (default all)")
    List<String> parts = List.of("updates", "memory", "serve");

    @Option(names = "--updates", description = "bundle updates during the run (default 100)")
    int updates = 100;

    @Option(names = "--steps", description = "steps of the memory run (default 2000)")
    int steps = 2000;

    @Option(names = "--warmup", description = "steps before the memory baseline (default 500)")
    int warmup = 500;

    @Option(names = "--requests", description = "fuzzed requests to distill serve (default 3000; the first third "
            + "warms it up)")
    int requests = 3000;

    @Option(names = "--clients", description = "concurrent clients sending them (default 8)")
    int clients = 8;

    @Option(names = "--out", description = "where the runs go (default: a new temporary folder)")
    Path out;

    @Override
    public Integer call() throws Exception {
        for (String p : parts) {
            if (!List.of("updates", "memory", "serve").contains(p)) {
                throw new ExperimentException(List.of("--parts: unknown part (got \"" + p
                        + "\"; accepted: updates, memory, serve)"));
            }
        }
        if (updates < 1 || steps < 200 || warmup < 100 || warmup >= steps || requests < 100 || clients < 1) {
            throw new ExperimentException(List.of("bench soak: need --updates >= 1, --steps >= 200, 100 <= --warmup < "
                    + "--steps, --requests >= 100, --clients >= 1"));
        }
        System.out.printf(Locale.ROOT, "distill bench soak: %d cores available%n",
                Runtime.getRuntime().availableProcessors());
        List<String> results = new ArrayList<>();
        if (parts.contains("updates") || parts.contains("memory")) {
            Path runs = out != null ? out : Files.createTempDirectory("distill-soak-");
            System.out.println("runs in " + runs);
            try (Kernel kernel = Distill.boot("cpu")) {
                if (parts.contains("updates")) {
                    Config c = experiment(runs.resolve("updates"), 1_000_000, 0);
                    results.add("updates " + (Soak.bundleUpdates(System.out, kernel, c, "kd.forward-kl", updates)
                            ? "met" : "NOT met"));
                }
                if (parts.contains("memory")) {
                    Config c = experiment(runs.resolve("memory"), steps, steps / 2);
                    results.add("memory " + (Soak.memory(System.out, kernel, c, 100, warmup, 0.02) ? "met" : "NOT met"));
                }
            }
        }
        if (parts.contains("serve")) {
            Path home = Home.get();
            results.add("serve " + (ServeSoak.run(System.out, home.resolve("bin/distill"),
                    home.resolve("config/models/teacher"), requests, clients, 8, 18) ? "met" : "NOT met"));
        }
        System.out.println("soak: " + String.join(", ", results));
        return results.stream().allMatch(r -> r.endsWith(" met")) ? ExitCodes.OK : ExitCodes.FAILED;
    }

    private static Config experiment(Path outDir, long steps, long checkpointEvery) {
        return Distill.load("smoke", List.of("train.steps=" + steps, "train.batch-size=2", "train.max-length=32",
                "train.checkpoint-every=" + checkpointEvery, "train.keep-checkpoints=1", "train.eval-every=0",
                "experiment.progress=off", "experiment.output-dir=" + outDir));
    }
}
