package org.distillery.kernel.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code distill bench spark}: records/s of the Spark {@code cache} job at {@code local[1]} and
 * {@code local[2]} against the single-process writer, in the Spark JVM; defaults to the embedded
 * teacher and the suite's training split.
 */
@Command(name = "spark",
        description = {"Records/s of `distill spark cache` at local[1] and local[2] against the single-process "
            + "`distill teacher cache` path (one PyTorch thread per task); options: --records N (800), --teacher, "
            + "--data, --masters, --max-length, --batch-size, --k."})
final class SparkBenchCommand implements Callable<Integer> {

    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        List<String> a = new ArrayList<>(List.of("bench"));
        if (!args.contains("--teacher")) {
            a.addAll(List.of("--teacher", Home.get().resolve("config/models/teacher").toString()));
        }
        if (!args.contains("--data")) {
            a.addAll(List.of("--data", Home.get().resolve("config/data/suite/train.jsonl").toString()));
        }
        a.addAll(args);
        return SparkLauncher.run(a);
    }
}
