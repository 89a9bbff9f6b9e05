package org.distillery.kernel.cli;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code distill spark <job> ...}: the Spark jobs (generate, cache, score, filter) in a child JVM,
 * embedded local mode by default; every argument goes to the job ({@code distill spark --help}).
 */
@Command(name = "spark",
        description = {"The teacher side as Apache Spark jobs, in a JVM of their own (local[*], UI off, bound to "
            + "127.0.0.1): generate, cache, score, filter. `distill spark --help` lists them.",
            "Needs the Spark distribution (distill-spark.tar.gz unpacked here, or DISTILL_SPARK_HOME)."})
final class SparkCommand implements Callable<Integer> {

    @Unmatched
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        return SparkLauncher.run(args.isEmpty() ? List.of("--help") : args);
    }
}
